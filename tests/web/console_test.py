"""console_test.py - the web console in a real browser (chromium through chromedriver).

usage: console_test.py DRIVER_URL CONSOLE_URL STATE_DIR   (env KHIEN_PASSWORD, TRICKY_UNIT, ENDPOINT)
Logs in as admin, reads the province's figures in Vietnamese, switches to English, opens a
unit and an endpoint, asks for a quarantined file to be restored, and logs out. Prints one
"ok NAME" or "FAIL NAME: why" line per check; exit status 1 when any failed.
"""
import os
import sys

from webdriver import Browser

driver, url, state = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
failed = 0


def check(name, cond, why=""):
    global failed
    if cond:
        print("ok  ", name)
    else:
        failed += 1
        print("FAIL", name + (": " + why if why else ""))


b = Browser(driver, "/usr/bin/chromium", os.path.join(state, "chromium"))
try:
    b.go(url + "/")
    b.wait(lambda: b.js("return !document.getElementById('login-view').hidden"), "the login form")
    check("login form in Vietnamese", b.text("#login-form h2") == "Đăng nhập", b.text("#login-form h2"))
    b.type("#login-user", "admin")
    b.type("#login-password", "wrong password")
    b.click("#login-submit")
    b.wait(lambda: b.text("#login-error"), "the refusal")
    check("a wrong password is refused, in Vietnamese", b.text("#login-error") == "Sai tên đăng nhập hoặc mật khẩu")
    b.js("document.getElementById('login-password').value = ''")
    b.type("#login-password", os.environ["KHIEN_PASSWORD"])
    b.click("#login-submit")
    b.wait(lambda: b.js("return document.querySelectorAll('#cards .card').length") == 9, "the province's cards")
    cards = b.text("#cards")
    check("province figures in Vietnamese", "Chỉ số lây nhiễm mã độc" in cards and "Tỷ lệ máy báo cáo" in cards, cards)
    check("the session cookie is not readable by scripts", "khien_session" not in b.js("return document.cookie"))
    children = b.text("#children")
    check("units below, names with diacritics intact", "Tỉnh Lai Châu" in children, children[:300])
    tricky = os.environ["TRICKY_UNIT"]
    b.go(url + "/#unit=" + os.environ["TRICKY_UNIT_ID"])
    b.wait(lambda: tricky in (b.text("#crumbs") or ""), "the tricky unit's page")
    check("markup in a unit name shown as text, not run",
          b.js("return document.querySelectorAll('#crumbs b, #crumbs img').length") == 0 and tricky in b.text("#crumbs"))
    # English
    b.click("#lang")
    b.wait(lambda: "Malware infection index" in (b.text("#cards") or ""), "English texts")
    check("switch to English", b.text("#lang") == "VI" and "Units below" in b.text("body"))
    b.click("#lang")
    b.wait(lambda: "Chỉ số lây nhiễm mã độc" in (b.text("#cards") or ""), "Vietnamese again")
    # a unit, then the infected endpoint
    b.go(url + "/#unit=" + os.environ["UNIT_ID"])
    b.wait(lambda: os.environ["UNIT_NAME"] in (b.text("#crumbs") or ""), "the commune's page")
    b.wait(lambda: b.js("return document.querySelectorAll('#endpoints a').length") >= 1, "its endpoints")
    check("the commune's endpoint listed", os.environ["HOSTNAME_"] in b.text("#endpoints"), b.text("#endpoints"))
    check("its detection counted", "1" in b.text("#cards"))
    b.go(url + "/#endpoint=" + os.environ["ENDPOINT"])
    b.wait(lambda: b.js("return document.querySelectorAll('#ep-events button[data-restore]').length") >= 1,
           "the endpoint's quarantined detection")
    events = b.text("#ep-events")
    check("the detection, its Vietnamese path and action", "tệp độc hại.com" in events and "đã cách ly" in events, events)
    b.click("#ep-events button[data-restore]")
    b.wait(lambda: "Đã gửi lệnh số" in (b.text("#cmd-msg") or ""), "the command's confirmation")
    b.wait(lambda: "khôi phục tệp" in (b.text("#ep-commands") or ""), "the command in the list")
    commands = b.text("#ep-commands")
    check("restore asked, pending", "khôi phục tệp" in commands and "chờ gửi" in commands, commands)
    with open(os.path.join(state, "restore-asked"), "w") as f:
        f.write("1")
    # the test script runs the agent now; then the command shows done
    b.wait(lambda: os.path.exists(os.path.join(state, "agent-ran")), "the agent's round", timeout=60)
    b.js("location.reload()")
    b.wait(lambda: "hoàn thành" in (b.text("#ep-commands") or ""), "the command done")
    check("restore done, as the agent reported", "hoàn thành" in b.text("#ep-commands"))
    b.click("#logout")
    b.wait(lambda: b.js("return !document.getElementById('login-view').hidden"), "the login form after logout")
    check("log out", b.js("return document.getElementById('app-view').hidden"))
finally:
    b.quit()
sys.exit(1 if failed else 0)
