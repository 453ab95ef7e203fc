"""Override analytics: how often each rule's cards are accepted or overridden, and why.

A card's outcome is its latest feedback (by outcomeTimestamp); a card with
no feedback was shown and ignored.  Override rate = overridden / (accepted +
overridden), undefined without feedback.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.models import AuditCard, AuditEvent, Feedback


def build_report(session: Session, since: datetime | None) -> list[dict[str, Any]]:
    q = select(AuditCard.card_uuid, AuditCard.topic, AuditCard.rule_id, AuditCard.rule_version).join(AuditEvent)
    if since is not None:
        q = q.where(AuditEvent.created_at >= since)
    cards = session.execute(q).all()
    latest: dict[str, Any] = {}
    comments: Counter[str] = Counter()
    unknown = 0
    for fb in session.scalars(select(Feedback).order_by(Feedback.outcome_timestamp, Feedback.id)):
        latest[fb.card_uuid] = fb
        comments[fb.card_uuid] += int(fb.has_comment)
        unknown += int(not fb.known_card)
    groups: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"shown": 0, "accepted": 0, "overridden": 0, "no_feedback": 0, "reasons": Counter(), "comments": 0})
    for uuid, topic, rule_id, version in cards:
        g = groups[(topic, rule_id, version)]
        g["shown"] += 1
        fb = latest.get(uuid)
        if fb is None:
            g["no_feedback"] += 1
            continue
        g[fb.outcome] += 1
        g["comments"] += comments[uuid]
        if fb.outcome == "overridden":
            g["reasons"][fb.override_code or "(no reason given)"] += 1  # codes only, never client free text
    rows = []
    for (topic, rule_id, version), g in sorted(groups.items()):
        answered = g["accepted"] + g["overridden"]
        rows.append({
            "topic": topic, "rule_id": rule_id, "rule_version": version, "shown": g["shown"],
            "accepted": g["accepted"], "overridden": g["overridden"], "no_feedback": g["no_feedback"],
            "override_rate": round(g["overridden"] / answered, 4) if answered else None,
            "top_override_reasons": [{"reason": r, "count": n} for r, n in g["reasons"].most_common(3)],
            "comments": g["comments"],
        })
    if unknown:
        rows.append({"topic": "(feedback for unknown cards)", "rule_id": "-", "rule_version": "-", "shown": 0,
                     "accepted": 0, "overridden": 0, "no_feedback": 0, "override_rate": None,
                     "top_override_reasons": [], "comments": 0, "feedback": unknown})
    return rows


def format_report(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["topic", "rule_id", "rule_version", "shown", "accepted", "overridden", "no_feedback",
                         "override_rate", "top_override_reasons", "comments"])
        for r in rows:
            writer.writerow([r["topic"], r["rule_id"], r["rule_version"], r["shown"], r["accepted"], r["overridden"],
                             r["no_feedback"], "" if r["override_rate"] is None else r["override_rate"],
                             "; ".join(f"{x['reason']} ({x['count']})" for x in r["top_override_reasons"]),
                             r["comments"]])
        return buf.getvalue()
    header = (f"{'topic':<18} {'rule':<28} {'ver':<4} {'shown':>6} {'acc':>5} {'ovr':>5} {'none':>5} "
              f"{'rate':>6}  top reasons")
    lines = [header, "-" * len(header)]
    for r in rows:
        rate = "-" if r["override_rate"] is None else f"{r['override_rate']:.0%}"
        reasons = "; ".join(f"{x['reason']} ({x['count']})" for x in r["top_override_reasons"])
        lines.append(f"{r['topic']:<18} {r['rule_id']:<28} {r['rule_version']:<4} {r['shown']:>6} {r['accepted']:>5} "
                     f"{r['overridden']:>5} {r['no_feedback']:>5} {rate:>6}  {reasons}")
    return "\n".join(lines) + "\n"
