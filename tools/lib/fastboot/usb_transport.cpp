#include "fastboot/usb_transport.hpp"
#include "common/text.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <libusb.h>
#include <thread>

namespace fastboop::fastboot {

namespace {

constexpr std::uint8_t fastboot_class = 0xff;
constexpr std::uint8_t fastboot_subclass = 0x42;
constexpr std::uint8_t fastboot_protocol = 0x03;

// First alt setting with ff/42/03 and both bulk endpoints; within it the last
// bulk IN and bulk OUT seen win (spec §4.1).
bool find_fastboot_interface(libusb_device* dev, UsbDeviceInfo& info) {
  libusb_device_descriptor dd{};
  if (libusb_get_device_descriptor(dev, &dd) != 0)
    return false;
  for (std::uint8_t c = 0; c < dd.bNumConfigurations; ++c) {
    libusb_config_descriptor* config = nullptr;
    if (libusb_get_config_descriptor(dev, c, &config) != 0)
      continue;
    for (int i = 0; i < config->bNumInterfaces; ++i) {
      const libusb_interface& iface = config->interface[i];
      for (int a = 0; a < iface.num_altsetting; ++a) {
        const libusb_interface_descriptor& alt = iface.altsetting[a];
        if (alt.bInterfaceClass != fastboot_class || alt.bInterfaceSubClass != fastboot_subclass ||
            alt.bInterfaceProtocol != fastboot_protocol)
          continue;
        std::uint8_t in = 0, out = 0;
        for (int e = 0; e < alt.bNumEndpoints; ++e) {
          const auto& ep = alt.endpoint[e];
          if ((ep.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
            continue;
          if (ep.bEndpointAddress & LIBUSB_ENDPOINT_IN)
            in = ep.bEndpointAddress;
          else
            out = ep.bEndpointAddress;
        }
        if (in && out) {
          info.interface_number = alt.bInterfaceNumber;
          info.endpoint_in = in;
          info.endpoint_out = out;
          info.vid = dd.idVendor;
          info.pid = dd.idProduct;
          libusb_free_config_descriptor(config);
          return true;
        }
      }
    }
    libusb_free_config_descriptor(config);
  }
  return false;
}

// Open, retrying while busy (another process) and briefly on EACCES (udev
// may not have applied permissions yet right after arrival).
int open_with_retries(libusb_device* dev, libusb_device_handle** handle) {
  int rc = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    rc = libusb_open(dev, handle);
    if (rc == 0)
      return 0;
    if (rc != LIBUSB_ERROR_BUSY && !(rc == LIBUSB_ERROR_ACCESS && attempt < 3))
      return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  return rc;
}

} // namespace

std::string udev_rule_for(std::uint16_t vid, std::uint16_t pid) {
  return "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"" + format_hex(vid, 4, HexPrefix::None) + "\", ATTR{idProduct}==\"" + format_hex(pid, 4, HexPrefix::None) +
         "\", TAG+=\"uaccess\"";
}

Result<std::shared_ptr<UsbContext>> UsbContext::create() {
  libusb_context* ctx = nullptr;
  if (int rc = libusb_init(&ctx); rc != 0)
    return Error("cannot initialise libusb: " + usb_error(rc), ErrorKind::Io);
  return std::shared_ptr<UsbContext>(new UsbContext(ctx));
}

UsbContext::~UsbContext() { libusb_exit(m_ctx); }

std::string usb_error(int libusb_rc) { return libusb_error_name(libusb_rc); }

std::string usb_port_path(libusb_device* dev) {
  std::uint8_t ports[8];
  int n = libusb_get_port_numbers(dev, ports, sizeof ports);
  std::string path = std::to_string(libusb_get_bus_number(dev));
  for (int i = 0; i < n; ++i)
    path += (i == 0 ? "-" : ".") + std::to_string(ports[i]);
  return path;
}

Result<std::vector<UsbDeviceInfo>> list_usb_fastboot_devices(UsbContext& context) {
  libusb_device** list = nullptr;
  ssize_t n = libusb_get_device_list(context.get(), &list);
  if (n < 0)
    return Error("cannot list USB devices: " + usb_error(static_cast<int>(n)), ErrorKind::Io);
  std::vector<UsbDeviceInfo> found;
  for (ssize_t i = 0; i < n; ++i) {
    UsbDeviceInfo info;
    if (!find_fastboot_interface(list[i], info))
      continue;
    info.bus = libusb_get_bus_number(list[i]);
    info.address = libusb_get_device_address(list[i]);
    info.port_path = usb_port_path(list[i]);
    libusb_device_handle* handle = nullptr;
    if (int rc = libusb_open(list[i], &handle); rc != 0) {
      char node[32];
      std::snprintf(node, sizeof node, "/dev/bus/usb/%03u/%03u", info.bus, info.address);
      info.open_error = rc == LIBUSB_ERROR_ACCESS
                            ? std::string("no permission to open ") + node +
                                  "; install fastboop's udev rules (70-fastboop.rules) or add: " +
                                  udev_rule_for(info.vid, info.pid)
                            : std::string("cannot open ") + node + ": " + usb_error(rc);
    } else {
      libusb_device_descriptor dd{};
      libusb_get_device_descriptor(list[i], &dd);
      unsigned char serial[256];
      if (dd.iSerialNumber != 0) {
        int len = libusb_get_string_descriptor_ascii(handle, dd.iSerialNumber, serial, sizeof serial);
        if (len > 0)
          info.serial.assign(reinterpret_cast<char*>(serial), static_cast<std::size_t>(len));
      }
      libusb_close(handle);
    }
    found.push_back(std::move(info));
  }
  libusb_free_device_list(list, 1);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.port_path < b.port_path; });
  return found;
}

namespace {
int LIBUSB_CALL on_arrival(libusb_context*, libusb_device*, libusb_hotplug_event, void* self) {
  static_cast<UsbArrivalWaiter*>(self)->mark_arrived();
  return 0;
}
} // namespace

UsbArrivalWaiter::UsbArrivalWaiter(std::shared_ptr<UsbContext> context) : m_context(std::move(context)) {
  if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
    int rc = libusb_hotplug_register_callback(m_context->get(), LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED,
                                              LIBUSB_HOTPLUG_NO_FLAGS, LIBUSB_HOTPLUG_MATCH_ANY,
                                              LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, &on_arrival, this,
                                              &m_handle);
    m_registered = rc == LIBUSB_SUCCESS;
  }
  if (!m_registered)
    log::debug("libusb hotplug unavailable; polling for devices");
}

UsbArrivalWaiter::~UsbArrivalWaiter() {
  if (m_registered)
    libusb_hotplug_deregister_callback(m_context->get(), m_handle);
}


void UsbArrivalWaiter::wait(std::chrono::milliseconds timeout) {
  if (!m_registered) {
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(500)));
    return;
  }
  m_arrived = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!m_arrived && std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    timeval tv{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
    int completed = 0;
    libusb_handle_events_timeout_completed(m_context->get(), &tv, &completed);
  }
}

UsbTransport::UsbTransport(std::shared_ptr<UsbContext> context, libusb_device_handle* handle,
                           const UsbDeviceInfo& device, const UsbOptions& options)
    : m_context(std::move(context)), m_handle(handle), m_device(device), m_options(options),
      m_name(device.location()) {}

UsbTransport::~UsbTransport() {
  libusb_release_interface(m_handle, m_device.interface_number);
  libusb_close(m_handle);
}

Result<std::unique_ptr<UsbTransport>> UsbTransport::open(std::shared_ptr<UsbContext> context,
                                                         const UsbDeviceInfo& device, const UsbOptions& options) {
  libusb_device** list = nullptr;
  ssize_t n = libusb_get_device_list(context->get(), &list);
  if (n < 0)
    return Error("cannot list USB devices: " + usb_error(static_cast<int>(n)), ErrorKind::Io);
  libusb_device* match = nullptr;
  for (ssize_t i = 0; i < n; ++i)
    if (libusb_get_bus_number(list[i]) == device.bus && libusb_get_device_address(list[i]) == device.address)
      match = list[i];
  if (!match) {
    libusb_free_device_list(list, 1);
    return Error(device.location() + ": the device is gone", ErrorKind::Device);
  }
  libusb_device_handle* handle = nullptr;
  int rc = open_with_retries(match, &handle);
  libusb_free_device_list(list, 1);
  if (rc == LIBUSB_ERROR_ACCESS)
    return Error(device.location() + ": no permission to open the device; install fastboop's udev rules "
                                     "(70-fastboop.rules) or add: " +
                     udev_rule_for(device.vid, device.pid),
                 ErrorKind::Io);
  if (rc != 0)
    return Error(device.location() + ": cannot open: " + usb_error(rc), ErrorKind::Device);
  libusb_set_auto_detach_kernel_driver(handle, 1);
  for (int attempt = 0;; ++attempt) {
    rc = libusb_claim_interface(handle, device.interface_number);
    if (rc == 0)
      break;
    if (rc != LIBUSB_ERROR_BUSY || attempt >= 20) {
      libusb_close(handle);
      return Error(device.location() + ": cannot claim interface " + std::to_string(device.interface_number) +
                       ": " + usb_error(rc),
                   ErrorKind::Device);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  return std::unique_ptr<UsbTransport>(new UsbTransport(std::move(context), handle, device, options));
}

namespace {

struct WriteState {
  int in_flight = 0;
  int failed_status = LIBUSB_TRANSFER_COMPLETED;
  std::uint64_t done = 0;
};

struct Slot {
  libusb_transfer* transfer = nullptr;
  WriteState* state = nullptr;
  bool busy = false;
};

void LIBUSB_CALL on_write_done(libusb_transfer* transfer) {
  auto* slot = static_cast<Slot*>(transfer->user_data);
  WriteState* state = slot->state;
  slot->busy = false;
  --state->in_flight;
  if (transfer->status != LIBUSB_TRANSFER_COMPLETED || transfer->actual_length != transfer->length) {
    if (state->failed_status == LIBUSB_TRANSFER_COMPLETED)
      state->failed_status =
          transfer->status == LIBUSB_TRANSFER_COMPLETED ? LIBUSB_TRANSFER_ERROR : transfer->status;
  } else {
    state->done += static_cast<std::uint64_t>(transfer->actual_length);
  }
}

std::string transfer_status_text(int status) {
  switch (status) {
  case LIBUSB_TRANSFER_TIMED_OUT:
    return "timed out";
  case LIBUSB_TRANSFER_STALL:
    return "endpoint stalled";
  case LIBUSB_TRANSFER_NO_DEVICE:
    return "device disconnected";
  case LIBUSB_TRANSFER_OVERFLOW:
    return "overflow";
  case LIBUSB_TRANSFER_CANCELLED:
    return "cancelled";
  default:
    return "transfer error (short write)";
  }
}

} // namespace

Result<void> UsbTransport::write(ByteSpan data, const ProgressFn& progress) {
  // Several chunks queued at once keep the bus busy while completions are
  // processed. Bulk OUT transfers on one endpoint complete in order.
  WriteState state;
  std::vector<Slot> slots(std::max(1u, m_options.transfers_in_flight));
  for (auto& slot : slots) {
    slot.state = &state;
    slot.transfer = libusb_alloc_transfer(0);
    if (!slot.transfer) {
      for (auto& other : slots)
        libusb_free_transfer(other.transfer);
      return Error(m_name + ": out of memory for USB transfers", ErrorKind::Io);
    }
  }
  auto* const context = m_context->get();
  std::uint64_t queued = 0;
  int submit_error = 0;
  while (state.done < data.size() && state.failed_status == LIBUSB_TRANSFER_COMPLETED && submit_error == 0) {
    for (auto& slot : slots) {
      if (slot.busy || queued >= data.size())
        continue;
      const auto n = static_cast<int>(std::min<std::uint64_t>(m_options.chunk_bytes, data.size() - queued));
      // libusb takes a non-const buffer but only reads it for OUT transfers.
      libusb_fill_bulk_transfer(slot.transfer, m_handle, m_device.endpoint_out,
                                const_cast<std::uint8_t*>(data.data() + queued), n, on_write_done, &slot,
                                static_cast<unsigned>(m_options.transfer_timeout.count()));
      if (int rc = libusb_submit_transfer(slot.transfer); rc != 0) {
        submit_error = rc;
        break;
      }
      slot.busy = true;
      ++state.in_flight;
      queued += static_cast<std::uint64_t>(n);
    }
    if (submit_error != 0 || state.in_flight == 0)
      break;
    const auto before = state.done;
    libusb_handle_events(context);
    if (progress && state.done != before)
      progress(state.done, data.size());
  }
  // On error, cancel what is still queued and drain it before freeing.
  for (auto& slot : slots)
    if (slot.busy)
      libusb_cancel_transfer(slot.transfer);
  while (state.in_flight > 0)
    libusb_handle_events(context);
  for (auto& slot : slots)
    libusb_free_transfer(slot.transfer);
  if (submit_error != 0)
    return Error(m_name + ": cannot submit a bulk transfer: " + usb_error(submit_error), ErrorKind::Device);
  if (state.failed_status != LIBUSB_TRANSFER_COMPLETED)
    return Error(m_name + ": write failed after " + std::to_string(state.done) + " of " +
                     std::to_string(data.size()) + " bytes: " + transfer_status_text(state.failed_status),
                 ErrorKind::Device);
  return ok();
}

Result<Bytes> UsbTransport::read(std::chrono::milliseconds timeout) {
  Bytes buffer(max_response_bytes);
  int got = 0;
  int rc = 0;
  // A couple of retries on transient errors, as AOSP's Linux code does.
  for (int attempt = 0; attempt < 3; ++attempt) {
    rc = libusb_bulk_transfer(m_handle, m_device.endpoint_in, buffer.data(), static_cast<int>(buffer.size()), &got,
                              static_cast<unsigned>(timeout.count()));
    if (rc == 0 || rc == LIBUSB_ERROR_TIMEOUT || rc == LIBUSB_ERROR_NO_DEVICE)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (rc == LIBUSB_ERROR_TIMEOUT)
    return Error("no answer from the device (timed out)", ErrorKind::Device);
  if (rc != 0)
    return Error("read failed: " + usb_error(rc), ErrorKind::Device);
  buffer.resize(static_cast<std::size_t>(got));
  return buffer;
}

} // namespace fastboop::fastboot
