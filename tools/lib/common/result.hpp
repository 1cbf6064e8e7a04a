// Result<T>: the error type used across every library boundary (no exceptions
// cross them). An Error carries a human message built from context frames,
// outermost first: "while reading devprofiles.d/x.yaml: line 4, column 3: ...".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace fastboop {

// How the tools map an error to an exit code: see cli::Exit (common/cli.hpp).
enum class ErrorKind {
  Invalid,     // bad input data: a file, a field, a device answer
  Usage,       // bad command-line usage
  Io,          // the operating system said no
  Unsupported, // a valid input we do not handle
  Device,      // the device or transport failed
  NotFound,    // a named input (file, directory, profile id) does not exist
  Network,     // a download failed (after its retries)
};

class Error {
public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::Invalid)
      : m_message(std::move(message)), m_kind(kind) {}

  const std::string& message() const { return m_message; }
  ErrorKind kind() const { return m_kind; }

  // Prefix a context frame: "<context>: <message>".
  Error& with_context(std::string_view context) & {
    m_message = std::string(context) + ": " + m_message;
    return *this;
  }
  Error&& with_context(std::string_view context) && {
    with_context(context);
    return std::move(*this);
  }

private:
  std::string m_message;
  ErrorKind m_kind;
};

template <typename T> class [[nodiscard]] Result {
public:
  using value_type = T;
  Result(T value) : m_data(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : m_data(std::in_place_index<1>, std::move(error)) {}
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& value) : m_data(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool ok() const { return m_data.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(m_data); }
  const T& value() const& { return std::get<0>(m_data); }
  T&& value() && { return std::get<0>(std::move(m_data)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(m_data); }
  Error&& error() && { return std::get<1>(std::move(m_data)); }

  Result&& with_context(std::string_view context) && {
    if (!ok())
      std::get<1>(m_data).with_context(context);
    return std::move(*this);
  }

private:
  std::variant<T, Error> m_data;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)) {}

  bool ok() const { return !m_error.has_value(); }
  explicit operator bool() const { return ok(); }
  void value() const {}
  const Error& error() const& { return *m_error; }
  Error&& error() && { return std::move(*m_error); }

  Result&& with_context(std::string_view context) && {
    if (m_error)
      m_error->with_context(context);
    return std::move(*this);
  }

private:
  std::optional<Error> m_error;
};

inline Result<void> ok() { return {}; }

} // namespace fastboop

// TRY(expr): evaluate a Result; on error return it from the enclosing function
// (which must return some Result<U>), otherwise yield the value. GNU statement
// expression, supported by both gcc and clang.
#define FASTBOOP_CONCAT_INNER(a, b) a##b
#define FASTBOOP_CONCAT(a, b) FASTBOOP_CONCAT_INNER(a, b)
#define TRY(...)                                                                                   \
  ({                                                                                               \
    auto&& FASTBOOP_CONCAT(try_result_, __LINE__) = (__VA_ARGS__);                                \
    if (!FASTBOOP_CONCAT(try_result_, __LINE__).ok())                                              \
      return std::move(FASTBOOP_CONCAT(try_result_, __LINE__)).error();                            \
    std::move(FASTBOOP_CONCAT(try_result_, __LINE__)).value();                                     \
  })

// TRY_CTX(expr, context): like TRY, but prefixes the context on the error.
#define TRY_CTX(expr, context)                                                                     \
  ({                                                                                               \
    auto&& FASTBOOP_CONCAT(try_result_, __LINE__) = (expr);                                        \
    if (!FASTBOOP_CONCAT(try_result_, __LINE__).ok())                                              \
      return std::move(std::move(FASTBOOP_CONCAT(try_result_, __LINE__)).error())                  \
          .with_context(context);                                                                  \
    std::move(FASTBOOP_CONCAT(try_result_, __LINE__)).value();                                     \
  })
