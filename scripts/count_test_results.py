#!/usr/bin/env python3
"""Counts individual test cases from Bazel's JUnit XML files.

Usage: count_test_results.py [--extra-passed N] [--extra-failed M]
                             TESTLOGS_DIR TARGET...

Prints one line per failed case and closes with `N passed, M failed`
(skipped cases are reported on their own line and count as neither).
A target without a readable test.xml (it did not build, crashed before
writing results, or timed out) counts as one failed case. The --extra
counts add cases run outside Bazel (the fuzz smoke pass).
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET


def xml_path(testlogs, target):
    package, _, name = target.lstrip("/").partition(":")
    return os.path.join(testlogs, package, name, "test.xml")


def count(testlogs, targets):
    passed = failed = skipped = 0
    failures = []
    for target in targets:
        path = xml_path(testlogs, target)
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            failed += 1
            failures.append(f"{target}: no test results (did not build or crashed)")
            continue
        cases = list(root.iter("testcase"))
        if not cases:
            # A test target that is not gtest (e.g. a shell test): Bazel
            # writes one synthetic case; judge it by its failure element.
            cases = [root]
        for case in cases:
            name = f"{target} {case.get('classname', '')}.{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failures.append(name)
            elif case.find("skipped") is not None or case.get("result") == "skipped" or case.get("status") == "notrun":
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-passed", type=int, default=0)
    parser.add_argument("--extra-failed", type=int, default=0)
    parser.add_argument("testlogs")
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args()
    passed, failed, skipped, failures = count(args.testlogs, args.targets)
    passed += args.extra_passed
    failed += args.extra_failed
    for line in failures:
        print(f"FAILED: {line}")
    if skipped:
        print(f"{skipped} skipped (see their messages in the test logs)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
