// See assembly_memo.h.
#include "emu/assembly_memo.h"

#include <fmt/format.h>

namespace klpemu {

Result<ObjectBytes> AssemblyMemo::assemble(std::string_view source, std::string_view file_name,
                                           const AssemblerOptions& options) {
    // The whole input is the key (a few KiB per object): no hash collision can return another
    // object.
    std::string key = fmt::format("{}\n{}\n{}\n", options.cpu, options.features, file_name);
    key.append(source);
    {
        std::lock_guard lock(m_mutex);
        if (auto it = m_objects.find(key); it != m_objects.end()) {
            return it->second;
        }
    }
    auto object = klpemu::assemble(source, file_name, options);
    if (object) {
        std::lock_guard lock(m_mutex);
        m_objects.emplace(std::move(key), *object);
    }
    return object;
}

size_t AssemblyMemo::size() const {
    std::lock_guard lock(m_mutex);
    return m_objects.size();
}

} // namespace klpemu
