"""Bilingual words for the codes people read on pages and in ``repolicy diff``: a version's state, a rule's
severity, an impact job's state.  The codes stay the API's (``draft``, ``major``, ``done``); these are what a
reader sees instead, Chinese first.  A code missing here is shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping

Words = Mapping[str, str]  # {"zh": ..., "en": ...}

VERSION_STATUS: dict[str, Words] = {
    "draft": {"zh": "草稿（未启用）", "en": "draft (not active)"},
    "active": {"zh": "已启用", "en": "active"},
    "retired": {"zh": "已停用", "en": "retired"},
}

SEVERITY: dict[str, Words] = {
    "critical": {"zh": "特别严重", "en": "critical"},
    "serious": {"zh": "严重", "en": "serious"},
    "major": {"zh": "较重", "en": "major"},
    "minor": {"zh": "轻微", "en": "minor"},
}

JOB_STATUS: dict[str, Words] = {
    "queued": {"zh": "排队中", "en": "queued"},
    "running": {"zh": "运行中", "en": "running"},
    "done": {"zh": "已完成", "en": "done"},
    "failed": {"zh": "失败", "en": "failed"},
}

# A rule's sign-off state where the service has no registry database to read it from (the API says why in
# English beside the code; a page says it in its own language).
REVIEW_UNAVAILABLE: dict[str, Words] = {
    "unknown": {"zh": "审核状态不可得（登记数据库未配置或无法连接）", "en": "sign-off state not available"},
}


def label(words: Mapping[str, Words], code: str, lang: str) -> str:
    """The words for ``code`` in ``lang`` ("zh" or "en"); the code itself when it has none."""
    return words[code][lang] if code in words else code


INSTRUMENT_STATUS: dict[str, Words] = {
    "draft": {"zh": "征求意见稿", "en": "draft"},
    "in_force": {"zh": "现行有效", "en": "in force"},
    "repealed": {"zh": "已废止", "en": "repealed"},
}
