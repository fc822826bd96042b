"""The dashboard in a real browser: Debian's headless chromium, driven through chromium-driver by selenium, logs in to
Horizon on the sandbox as the demo user (the summary's login), opens the instances, images and network topology
pages, launches an instance with the launch dialog until it is ACTIVE, and logs out; a wrong password is refused.
Every page is saved as a screenshot under .cache/screenshots/horizon/ for a person to look at.

The browser trusts exactly the certificate the box serves (its public key, pinned); TLS against the deploy's CA is
checked separately from this machine, as a client of the API would."""

import base64
import hashlib
import shlex
import shutil
import ssl
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import box
import pytest
from box import OPENSTACK_SECRETS, OS_DEMO, ROOT
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from waiting import wait_for

SHOTS = ROOT / ".cache" / "screenshots" / "horizon"
IMAGE, FLAVOR, NETWORK = "ciab-guest", "SCS-1L-1-5", "demo-net"
TIMEOUT = 120
IDLE = """
const injector = window.angular && angular.element(document.body).injector();
return document.readyState === 'complete' && (!window.jQuery || jQuery.active === 0)
  && (!injector || injector.get('$http').pendingRequests.length === 0);
"""


@pytest.fixture(scope="module")
def dashboard(host):
    """{url, domain, user, password_file, ca} as ciab.box.horizon wrote them; Horizon answers (the container may
    have been restarted by test_ceph)."""
    wait_for(host, "systemctl is-active horizon", timeout=120)
    return box.dashboard()


def _pinned_key(url):
    """base64(sha256(SubjectPublicKeyInfo)) of the certificate the dashboard serves (chromium's pin format)."""
    parts = urlsplit(url)
    pem = ssl.get_server_certificate((parts.hostname, parts.port or 443))
    spki = (
        x509.load_pem_x509_certificate(pem.encode())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def browser(dashboard, tmp_path_factory):
    for binary in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        assert Path(binary).exists(), f"{binary} is missing: scripts/setup installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a VM
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",  # the pin below needs a profile of its own
        f"--ignore-certificate-errors-spki-list={_pinned_key(dashboard['url'])}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
    driver.implicitly_wait(0)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    yield driver
    driver.quit()


def _wait(driver, what, timeout=TIMEOUT):
    """Until ``what(driver)`` is true; an element not there yet, or replaced by the page meanwhile, is retried."""
    retried = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=retried).until(what)


def _ready(driver):
    """The page is loaded and neither jQuery nor Angular has a request outstanding."""
    _wait(driver, lambda d: d.execute_script(IDLE))


def _shot(driver, name):
    _ready(driver)
    driver.save_screenshot(str(SHOTS / f"{len(list(SHOTS.iterdir())) + 1:02d}-{name}.png"))


def _login(driver, dashboard, password):
    driver.get(dashboard["url"] + "auth/login/")
    _wait(driver, lambda d: d.find_elements(By.ID, "id_password"))
    for field, value in (("id_domain", dashboard["domain"]), ("id_username", dashboard["user"])):
        driver.find_element(By.ID, field).clear()
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.ID, "loginBtn").click()


def _allocate(driver, table, item):
    """Move ``item`` of a step of the launch dialog from "Available" to "Allocated" (its arrow turns down); the
    dialog allocates a project's only network itself."""
    row = f".//*[normalize-space(text())='{item}']/ancestor::tr"
    up, down = (f"{row}//*[contains(@class, 'fa-arrow-{way}')]" for way in ("up", "down"))
    # the row's button comes with a template of its own, after the row
    _wait(driver, lambda d: table.find_elements(By.XPATH, up) or table.find_elements(By.XPATH, down))
    if not table.find_elements(By.XPATH, down):
        table.find_element(By.XPATH, up).click()
    _wait(driver, lambda d: table.find_elements(By.XPATH, down))


def test_login_page_answers_over_tls_with_the_deploys_ca(dashboard):
    with box.dashboard_get() as answer:
        page = answer.read().decode()
        cookies = answer.headers.get_all("Set-Cookie") or []
    assert 'id="id_domain"' in page and 'id="id_password"' in page  # the Keystone v3 login with domains
    # static files were compressed at deploy time: the page links the compressed bundles nginx serves
    assert "/static/dashboard/css/" in page and "/static/dashboard/js/" in page
    csrf = [c for c in cookies if c.startswith("csrftoken=")]
    assert csrf and "Secure" in csrf[0], cookies


def test_static_files_are_served_by_nginx(dashboard):
    with box.dashboard_get() as answer:
        page = answer.read().decode()
    css = page.split('href="/static/dashboard/css/', 1)[1].split('"', 1)[0]
    with box.dashboard_get(f"static/dashboard/css/{css}") as answer:
        assert answer.status == 200 and answer.headers["Content-Type"] == "text/css"
        assert answer.headers["Server"].startswith("nginx")


def test_a_wrong_password_is_refused(browser, dashboard):
    _login(browser, dashboard, "not-" + uuid.uuid4().hex)
    _wait(browser, lambda d: "Invalid credentials." in d.page_source)
    assert browser.find_elements(By.ID, "id_password")  # still the login page
    _shot(browser, "wrong-password")


def test_the_demo_user_logs_in_sees_the_pages_launches_an_instance_and_logs_out(browser, dashboard, host):
    password = Path(dashboard["password_file"]).read_text().strip()
    _login(browser, dashboard, password)
    _wait(browser, lambda d: "/project/" in d.current_url)
    _shot(browser, "overview")

    browser.get(dashboard["url"] + "project/images/")
    _wait(browser, lambda d: d.find_elements(By.XPATH, f"//a[normalize-space()='{IMAGE}']"))
    _shot(browser, "images")

    browser.get(dashboard["url"] + "project/network_topology/")
    # the topology's graph: one node per network, drawn from the API's answer
    drawn = f"//*[local-name()='svg']//*[local-name()='text' and contains(., '{NETWORK}')]"
    _wait(browser, lambda d: d.find_elements(By.XPATH, drawn))
    _shot(browser, "network-topology")

    name = f"dashboard-{uuid.uuid4().hex[:8]}"
    try:
        browser.get(dashboard["url"] + "project/instances/")
        _wait(browser, lambda d: d.find_elements(By.ID, "instances"))
        _shot(browser, "instances")
        browser.find_element(By.LINK_TEXT, "Launch Instance").click()
        wizard = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "wizard"))
        _wait(browser, lambda d: wizard.find_element(By.ID, "name").is_displayed())
        wizard.find_element(By.ID, "name").send_keys(name)
        steps = wizard.find_element(By.CSS_SELECTOR, "div.wizard-nav")
        for step, form, item in (
            ("Source", "launchInstanceSourceForm", IMAGE),
            ("Flavor", "launchInstanceFlavorForm", FLAVOR),
            ("Networks", "launchInstanceNetworkForm", NETWORK),
        ):
            # a step's link shows once the step is ready (Networks: after the service catalog)
            _wait(browser, lambda d, s=step: steps.find_element(By.LINK_TEXT, s).is_displayed())
            steps.find_element(By.LINK_TEXT, step).click()
            _allocate(browser, wizard.find_element(By.CSS_SELECTOR, f"ng-include[ng-form={form}]"), item)
            _shot(browser, f"launch-{step.lower()}")
        # enabled once every required step is complete
        _wait(browser, lambda d: wizard.find_element(By.CSS_SELECTOR, "button.btn-primary.finish").is_enabled())
        wizard.find_element(By.CSS_SELECTOR, "button.btn-primary.finish").click()
        # the instances table shows the new instance until it is Active (the page polls its row)
        row = f"//tr[.//a[normalize-space()='{name}']]"
        _wait(browser, lambda d: d.find_elements(By.XPATH, row), timeout=60)
        deadline, status = time.monotonic() + 300, ""
        while time.monotonic() < deadline:
            status = host.run(f"{OS_DEMO} server show {shlex.quote(name)} -f value -c status").stdout.strip()
            if status in ("ACTIVE", "ERROR"):
                break
            time.sleep(3)
        assert status == "ACTIVE", f"{name} is {status}"
        browser.get(dashboard["url"] + "project/instances/")
        _wait(browser, lambda d: "Active" in d.find_element(By.XPATH, row).text)
        _shot(browser, "instance-active")
    finally:
        host.run(f"{OS_DEMO} server delete --wait {shlex.quote(name)}")

    # the user menu's "Sign Out" (a POST with the page's CSRF token)
    browser.find_element(By.CSS_SELECTOR, "li.user-menu > a.dropdown-toggle").click()
    _wait(browser, lambda d: d.find_element(By.XPATH, "//button[contains(., 'Sign Out')]").is_displayed())
    browser.find_element(By.XPATH, "//button[contains(., 'Sign Out')]").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "id_password"))
    _shot(browser, "logged-out")
    browser.get(dashboard["url"] + "project/instances/")  # a page of the project now asks for the login again
    _wait(browser, lambda d: "/auth/login/" in d.current_url)


def test_settings_are_private_and_the_dashboard_comes_back_after_a_restart(host, dashboard):
    settings = host.file("/etc/horizon/settings.json")
    assert (settings.user, settings.group, settings.mode) == ("root", "horizon", 0o640)  # it holds the secret key
    secret = OPENSTACK_SECRETS / "passwords" / "horizon-secret-key"
    assert secret.stat().st_mode & 0o077 == 0 and len(secret.read_text().strip()) >= 50
    assert host.process.filter(user="horizon", comm="uwsgi")  # runs as its own user
    host.check_output("systemctl restart horizon")
    deadline = time.monotonic() + 60
    while True:
        try:
            with box.dashboard_get(timeout=10) as answer:
                assert answer.status == 200
                break
        except OSError:
            assert time.monotonic() < deadline, "the dashboard did not come back within 60 s of its restart"
            time.sleep(2)
