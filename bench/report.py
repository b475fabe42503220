"""The short table printed after a run (the JSON file has everything)."""

from __future__ import annotations


def _f(value, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def table(results: dict) -> str:
    lines = [f"machine: {results['machine']['summary']}"]
    rows = results.get("systems", [])
    if rows:
        lines.append("")
        lines.append(
            f"{'system':<18}{'clip':<20}{'mode':<7}{'det':>4}{'frames':>7}{'fps':>8}{'steady':>8}"
            f"{'p50 ms':>8}{'p95 ms':>8}{'cpu s/f':>9}{'cpu fps':>8}{'RSS MB':>8}{'prec':>6}{'recall':>7}"
        )
        for r in rows:
            lat50 = r.get("latency_p50_s")
            lat95 = r.get("latency_p95_s")
            lines.append(
                f"{r['system'] + (' ' + r['label'] if r.get('label') else ''):<18.18}{r['clip']:<20.20}"
                f"{r.get('mode', ''):<7}{r.get('detectors', 1):>4}{r['frames']:>7}{_f(r['fps']):>8}"
                f"{_f(r.get('steady_fps')):>8}{_f(lat50 and lat50 * 1e3, '{:.0f}'):>8}"
                f"{_f(lat95 and lat95 * 1e3, '{:.0f}'):>8}{_f(r.get('cpu_s_per_frame'), '{:.3f}'):>9}"
                f"{_f(r.get('cpu_bound_fps')):>8}"
                f"{_f(r.get('peak_rss_mb'), '{:.0f}'):>8}{_f(r.get('precision'), '{:.3f}'):>6}"
                f"{_f(r.get('recall'), '{:.3f}'):>7}"
            )
    for text in results.get("ratios", []):
        lines.append(text)
    for s in results.get("levers", []) + results.get("stages", []):
        parts = ", ".join(f"{k} {v:.1f}" for k, v in s["ms_per_frame"].items())
        pr = f", P {s['precision']:.3f} R {s['recall']:.3f}" if "recall" in s else ""
        lines.append(
            f"stages {s['clip']} [{s.get('label', '')}]: {s['total_ms_per_frame']:.1f} ms/frame{pr} ({parts})"
        )
    g = results.get("gallery", [])
    if g:
        lines.append("")
        lines.append(
            f"{'backend':<13}{'gallery':>9}{'batch':>6}{'p50 ms':>8}{'p95 ms':>8}{'emb/s':>9}{'insert s':>9}"
        )
        for r in g:
            lines.append(
                f"{r['backend']:<13}{r['gallery']:>9}{r['batch']:>6}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
                f"{r['embeddings_per_s']:>9.0f}{_f(r.get('insert_s')):>9}"
            )
    return "\n".join(lines)
