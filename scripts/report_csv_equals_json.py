#!/usr/bin/python3
"""Checks that `itvctl report --format csv` says what `itvctl report --format json` says.

Usage: report_csv_equals_json.py REPORT.csv REPORT.json
Reads the CSV with Python's csv module (UTF-8 with its byte order mark, RFC 4180 quoting), undoes the
formula guard (a leading ' before = + - @ tab CR), flattens the JSON report the way the CSV is documented
(one record per host, procedure and rollout; times in ISO 8601 UTC; approvers separated by spaces) and
compares the two record by record. Exit 0 when equal, 1 with the first difference otherwise.
"""
import csv, json, sys
from datetime import datetime, timezone

COLUMNS = ["tenant", "tenant_name", "host", "procedure", "installed", "seen_at", "newest", "state",
           "behind_since", "rollout", "rollout_version", "rollout_phase", "host_phase", "created_by",
           "approved_by", "plan_hash"]


def iso(millis):
    if millis is None:
        return ""
    return datetime.fromtimestamp(millis // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unguard(cell):
    if len(cell) >= 2 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def from_json(doc):
    records = []
    for row in doc["rows"]:
        head = [doc["tenant"], doc["tenant_name"], row["host"], row["procedure"], row.get("installed", ""),
                iso(row.get("seen_at")), row.get("newest", ""), row["state"], iso(row.get("behind_since"))]
        if not row["rollouts"]:
            records.append(head + [""] * 7)
        for r in row["rollouts"]:
            records.append(head + [str(r["id"]), r["version"], r["phase"], r["host_phase"], r["created_by"],
                                   " ".join(r["approved_by"]), r["plan_hash"]])
    return records


def main(csv_path, json_path):
    with open(csv_path, "rb") as f:
        raw = f.read()
    if not raw.startswith(b"\xef\xbb\xbf"):
        print("the CSV does not start with a UTF-8 byte order mark")
        return 1
    body = raw[3:]
    if body and b"\r\n" not in body:
        print("the CSV's records do not end with CRLF")
        return 1
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = [[unguard(c) for c in r] for r in csv.reader(f, strict=True)]
    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
    if rows[0] != COLUMNS:
        print(f"columns: {rows[0]}")
        return 1
    expected = from_json(doc)
    if rows[1:] != expected:
        for i, (a, b) in enumerate(zip(rows[1:], expected)):
            if a != b:
                print(f"record {i + 1}: csv {a} != json {b}")
                return 1
        print(f"{len(rows) - 1} csv records, {len(expected)} from the json")
        return 1
    print(f"equal: {len(expected)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
