// Box<T>: a heap-allocated value with value semantics (deep copy), for
// recursive data such as nested pipeline stages.
#pragma once

#include <memory>
#include <utility>

namespace fastboop {

template <typename T> class Box {
public:
  Box() : m_ptr(std::make_unique<T>()) {}
  Box(T value) : m_ptr(std::make_unique<T>(std::move(value))) {}
  Box(const Box& other) : m_ptr(std::make_unique<T>(*other.m_ptr)) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& other) {
    if (this != &other)
      m_ptr = std::make_unique<T>(*other.m_ptr);
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  T& operator*() { return *m_ptr; }
  const T& operator*() const { return *m_ptr; }
  T* operator->() { return m_ptr.get(); }
  const T* operator->() const { return m_ptr.get(); }
  friend bool operator==(const Box& a, const Box& b) { return *a.m_ptr == *b.m_ptr; }

private:
  std::unique_ptr<T> m_ptr;
};

} // namespace fastboop
