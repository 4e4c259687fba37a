// See ground_truth.h.
#include "unwinder/ground_truth.h"

namespace klpemu::unwinder {

bool FunctionEntries::is_entry(GuestAddr a) {
    auto [it, inserted] = m_cache.try_emplace(a, false);
    if (inserted) {
        const std::optional<Symbol> f = m_symbols.function_at(a);
        it->second = f && f->addr == a;
    }
    return it->second;
}

void GroundTruth::on_instruction(GuestAddr pc, const BranchClass& cls, const RegisterReader& regs) {
    switch (cls.kind) {
    case BranchKind::None:
        return;
    case BranchKind::Call: {
        const GuestAddr target = cls.target ? *cls.target : GuestAddr(regs.x(cls.rn));
        push(ShadowFrame{ShadowKind::Call, pc + 4, target, false});
        return;
    }
    case BranchKind::Jump: {
        const GuestAddr target = cls.target ? *cls.target : GuestAddr(regs.x(cls.rn));
        if (!m_frames.empty() && m_frames.back().kind == ShadowKind::Call &&
            m_entries.is_entry(target)) {
            m_frames.back().callee = target; // Tail call.
        }
        return;
    }
    case BranchKind::Ret:
        ret_to(pc, GuestAddr(regs.x(cls.rn)));
        return;
    }
}

void GroundTruth::push(ShadowFrame frame) {
    if (m_content_ids.size() >= kMaxContentIds) {
        m_content_ids.clear(); // Ids already handed out stay unique: the counter never rewinds.
    }
    const ContentKey key{content_id(), frame.return_address.value};
    auto [it, inserted] = m_content_ids.try_emplace(key, m_next_content_id);
    if (inserted) {
        ++m_next_content_id;
    }
    frame.content = it->second;
    m_frames.push_back(frame);
    ++m_generation;
}

void GroundTruth::ret_to(GuestAddr pc, GuestAddr target) {
    if (m_frames.empty()) {
        m_complete = false;
        m_mismatches.push_back(TruthMismatch{pc, std::nullopt, target});
        return;
    }
    ShadowFrame& top = m_frames.back();
    if (top.kind == ShadowKind::Call && target == top.return_address) {
        m_frames.pop_back();
        ++m_generation;
        return;
    }
    if (top.kind == ShadowKind::Call && m_return_to_handler && target == *m_return_to_handler) {
        top.graph_returning = true;
        return;
    }
    if (top.kind == ShadowKind::Call && m_entries.is_entry(target)) {
        m_frames.pop_back(); // A trampoline's `ret x9` into another function.
        if (!m_frames.empty() && m_frames.back().kind == ShadowKind::Call) {
            m_frames.back().callee = target;
        }
        ++m_generation;
        return;
    }
    m_mismatches.push_back(TruthMismatch{pc, top.return_address, target});
    if (top.kind == ShadowKind::Call) {
        m_frames.pop_back();
        ++m_generation;
    }
}

void GroundTruth::on_exception_entry(GuestAddr elr) {
    push(ShadowFrame{ShadowKind::Exception, elr, GuestAddr(), false});
    ++m_exception_depth;
}

void GroundTruth::on_exception_return(GuestAddr pc, GuestAddr target) {
    // Anything the handler left above its exception frame is abandoned (a mismatch).
    while (!m_frames.empty() && m_frames.back().kind == ShadowKind::Call) {
        m_mismatches.push_back(TruthMismatch{pc, m_frames.back().return_address, target});
        m_frames.pop_back();
    }
    if (m_frames.empty()) {
        m_complete = false;
        m_mismatches.push_back(TruthMismatch{pc, std::nullopt, target});
        return;
    }
    if (m_frames.back().return_address != target) {
        m_mismatches.push_back(TruthMismatch{pc, m_frames.back().return_address, target});
    }
    m_frames.pop_back();
    --m_exception_depth;
    ++m_generation;
}

void GroundTruth::return_addresses(GuestAddr pc, std::vector<GuestAddr>& out) const {
    out.clear();
    out.push_back(pc);
    for (auto it = m_frames.rbegin(); it != m_frames.rend(); ++it) {
        out.push_back(it->return_address);
    }
}

} // namespace klpemu::unwinder
