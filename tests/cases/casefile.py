"""casefile.py - what the case generators (make_arch_cases.py, make_inst_cases.py,
make_upx_cases.py, make_pe_cases.py) share: an MD5 signature line and the writing of one .case
file (format: docs/tests/CASEFORMAT.md) with the input as hex."""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def hdb(data, name="Test.File"):
    return "%s:%d:%s\n" % (hashlib.md5(data).hexdigest(), len(data), name)


def write_case(script, area, num, slug, comment, sigs, data, expect, options=None):
    """tests/cases/AREA/NNNN-SLUG.case, saying it was written by SCRIPT."""
    os.makedirs(os.path.join(HERE, area), exist_ok=True)
    lines = ["# " + l for l in comment.strip().split("\n")]
    lines.append("# (written by tests/cases/%s: edit the script, not this file)" % script)
    for name, body in sigs:
        lines.append("--- sigs " + name)
        lines.append(body.rstrip("\n"))
    lines.append("--- input hex")
    hx = data.hex()
    lines += [hx[i:i + 64] for i in range(0, len(hx), 64)] or [""]
    if options:
        lines.append("--- options")
        lines += options
    lines.append("--- expect")
    lines += expect
    with open(os.path.join(HERE, area, "%04d-%s.case" % (num, slug)), "w") as f:
        f.write("\n".join(lines) + "\n")
