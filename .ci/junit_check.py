"""Reads gatedrill's junit.xml with junitparser, a widely used JUnit consumer, and checks what CI
tools rely on: every case has classname gatedrill.<suite>; names are unique in their suite and
carry no session ids; failed cases say why; case times sum to the suite's time.

Usage: junit_check.py JUNIT_XML"""

import re
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

xml = JUnitXml.fromfile(sys.argv[1])
suites = list(xml)
assert suites, "no testsuite"
cases = 0
for suite in suites:
    names = set()
    total = 0.0
    for case in suite:
        cases += 1
        assert case.classname == f"gatedrill.{suite.name}", (suite.name, case.classname)
        assert case.name not in names, f"{suite.name}: duplicate case name {case.name!r}"
        names.add(case.name)
        assert not re.search(r"ags_[0-9a-f]{6,}", case.name), f"run-specific id in {case.name!r}"
        for result in case.result:
            if isinstance(result, (Failure, Error)):
                assert result.message, f"{suite.name}/{case.name}: a failure without a reason"
            elif isinstance(result, Skipped):
                assert result.message, f"{suite.name}/{case.name}: a skip without a reason"
        total += case.time or 0.0
    assert abs(total - (suite.time or 0.0)) < 0.01 * max(1, len(names)), (suite.name, total, suite.time)
    props = {p.name: p.value for p in suite.properties()}
    assert "seed" in props and "target" in props, props
print(f"junit.xml read by junitparser: {len(suites)} suites, {cases} cases, classnames, unique names, reasons and times ok")
