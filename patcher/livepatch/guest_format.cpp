// See guest_format.h.
#include "patcher/livepatch/guest_format.h"

#include <fmt/format.h>

namespace klpemu::patcher::livepatch {

std::string read_guest_string(const emu::GuestMemory& memory, GuestAddr addr, size_t max) {
    if (addr.value == 0) {
        return "(null)";
    }
    std::string s;
    for (size_t i = 0; i < max; ++i) {
        const uint8_t* p = memory.host_ptr(addr + int64_t(i), 1);
        if (!p || *p == 0) {
            break;
        }
        s.push_back(char(*p));
    }
    return s;
}

namespace {

std::string pad(std::string body, size_t width, bool left, bool zero) {
    if (body.size() >= width) {
        return body;
    }
    const size_t n = width - body.size();
    if (left) {
        return body + std::string(n, ' ');
    }
    if (zero) {
        const size_t sign = !body.empty() && body[0] == '-' ? 1 : 0;
        return body.substr(0, sign) + std::string(n, '0') + body.substr(sign);
    }
    return std::string(n, ' ') + body;
}

// %pGg: the named GFP masks of <linux/slab.h>, else the raw value as the kernel prints an
// unknown remainder.
std::string gfp_flags_text(uint32_t flags) {
    switch (flags) {
    case 0x0cc0:
        return "GFP_KERNEL";
    case 0x0820:
        return "GFP_ATOMIC";
    case 0x0800:
        return "GFP_NOWAIT";
    case 0:
        return "0x0";
    default:
        return fmt::format("{:#x}", flags);
    }
}

} // namespace

std::string format_guest(const emu::GuestMemory& memory, const SymbolTable& symbols,
                         const std::string& format, const std::function<uint64_t()>& next_arg) {
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%' || i + 1 >= format.size()) {
            out.push_back(format[i]);
            continue;
        }
        size_t j = i + 1;
        bool left = false, zero = false;
        for (; j < format.size() && (format[j] == '-' || format[j] == '0'); ++j) {
            left |= format[j] == '-';
            zero |= format[j] == '0';
        }
        size_t width = 0;
        for (; j < format.size() && format[j] >= '0' && format[j] <= '9'; ++j) {
            width = width * 10 + size_t(format[j] - '0');
        }
        int longs = 0;
        bool half = false;
        for (; j < format.size() && (format[j] == 'l' || format[j] == 'z' || format[j] == 'h');
             ++j) {
            longs += format[j] != 'h' ? 1 : 0;
            half |= format[j] == 'h';
        }
        if (j >= format.size()) {
            out += format.substr(i);
            break;
        }
        const char conv = format[j];
        std::string body;
        switch (conv) {
        case '%':
            body = "%";
            break;
        case 'c':
            body = std::string(1, char(next_arg()));
            break;
        case 's':
            body = read_guest_string(memory, GuestAddr(next_arg()));
            break;
        case 'd':
        case 'i': {
            const uint64_t v = next_arg();
            body = longs ? fmt::format("{}", int64_t(v)) : fmt::format("{}", int32_t(uint32_t(v)));
            break;
        }
        case 'u': {
            const uint64_t v = next_arg();
            body = longs ? fmt::format("{}", v) : fmt::format("{}", uint32_t(v));
            break;
        }
        case 'x':
        case 'X': {
            uint64_t v = next_arg();
            v = longs ? v : uint64_t(uint32_t(v));
            body = conv == 'x' ? fmt::format("{:x}", v) : fmt::format("{:X}", v);
            break;
        }
        case 'p': {
            const uint64_t v = next_arg();
            if (j + 1 < format.size() && (format[j + 1] == 's' || format[j + 1] == 'S')) {
                const Symbolized s = symbols.symbolize(GuestAddr(v));
                body = format[j + 1] == 's' ? s.base : s.str();
                ++j;
            } else if (j + 2 < format.size() && format[j + 1] == 'G' && format[j + 2] == 'g') {
                // %pGg: the gfp_t the argument points at, by name (lib/vsprintf.c flags_string).
                body = gfp_flags_text(memory.load<uint32_t>(GuestAddr(v)));
                j += 2;
            } else {
                if (j + 1 < format.size() && format[j + 1] == 'x') {
                    ++j;
                }
                body = fmt::format("{:016x}", v);
            }
            break;
        }
        default:
            body = format.substr(i, j - i + 1);
            break;
        }
        (void)half;
        out += pad(std::move(body), width, left, zero);
        i = j;
    }
    return out;
}

} // namespace klpemu::patcher::livepatch
