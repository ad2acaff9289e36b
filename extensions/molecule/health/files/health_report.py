# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads the client loop's log (one line per round: TIME ANSWER-OF-EACH-SERVICE) and the events of the health
sequence (JSON), prints per event: requests, failed requests, when the last one failed after the event started
(the detection time the clients saw) and the answers after the table settled. Run on the client by the verify."""

import json
import sys


def main():
    log_path, events_path = sys.argv[1], sys.argv[2]
    columns = sys.argv[3].split(",")
    rounds = []
    with open(log_path) as log:
        for line in log:
            fields = line.split()
            if len(fields) == len(columns) + 1:
                rounds.append((float(fields[0]), dict(zip(columns, fields[1:]))))
    with open(events_path) as handle:
        events = json.load(handle)
    report = []
    for index, event in enumerate(events):
        end = events[index + 1]["started"] if index + 1 < len(events) else float("inf")
        window = [(time, answers) for time, answers in rounds if event["started"] <= time < end]
        item = {"name": event["name"], "rounds": len(window), "table_settled_after": round(
            event["settled"] - event["complete"], 1)}
        for column in event["columns"]:
            failed = [time for time, answers in window if answers[column] == "FAIL"]
            item[column] = {
                "failed": len(failed),
                # After the event's last host changed (both servers stop one after the other).
                "last_failure_after": round(failed[-1] - event["complete"], 1) if failed else None,
                "answers_after_settled": sorted(set(
                    answers[column] for time, answers in window if time > event["settled"] + 1)),
            }
        report.append(item)
    json.dump({"rounds": len(rounds), "events": report}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
