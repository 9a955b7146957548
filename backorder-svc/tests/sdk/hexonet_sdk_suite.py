"""The command API driven by HEXONET's official Python SDK (hexonet-apiconnector 4.0.2),
as a reseller's integration would drive it: only the URL changed.

Started by tests/command_api_sdk.rs, which runs the service and passes in, by environment:
BO_LIVE_URL, BO_OTE_URL, BO_USER, BO_PASS (a funded live login), BO_RO_ROLE and BO_RO_PASS
(a read-only role of that login), BO_POOR_USER and BO_POOR_PASS (a live login without funds),
BO_OTE_USER and BO_OTE_PASS (a login of the test environment), BO_DROP_DOMAINS (names on the
live drop list, comma separated; the first is a .com), BO_IDN_DOMAIN (a Unicode name).
Prints one line per check; exits 1 when any failed.
"""

import os
import sys

from hexonet.apiconnector.apiclient import APIClient

ENV = os.environ
FAILED = []


def check(condition, what, response=None):
    detail = ""
    if response is not None:
        detail = " [%s %s]" % (response.getCode(), response.getDescription())
    print(("ok   " if condition else "FAIL ") + what + detail, flush=True)
    if not condition:
        FAILED.append(what)


def client(url, live=True):
    c = APIClient()
    if live:
        c.useLIVESystem()
    else:
        c.useOTESystem()
    c.setURL(url)
    return c


def code(response):
    return response.getCode()


def first(response, column):
    return response.getColumnIndex(column, 0)


drop = ENV["BO_DROP_DOMAINS"].split(",")
live = client(ENV["BO_LIVE_URL"])
live.setCredentials(ENV["BO_USER"], ENV["BO_PASS"])

# Credentials on every request, then a session.
r = live.request({"COMMAND": "CheckAuthentication"})
check(code(r) == 200, "CheckAuthentication with login and password", r)
r = live.login()
check(r.isSuccess() and live.getSession(), "login() opens a session", r)

# Create: regular, lite, IDN in Unicode (the SDK converts it with ConvertIDN itself).
r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": drop[0]})
check(code(r) == 200, "AddDomainApplication BACKORDER " + drop[0], r)
regular = first(r, "APPLICATION")
check(first(r, "STATUS") == "REQUESTED", "a new application is REQUESTED", r)
check(first(r, "CLASS") == "COM_BACKORDER", "CLASS reads COM_BACKORDER", r)
created = first(r, "CREATEDDATE") or ""
check(len(created) == 19 and created[10] == " ", "CREATEDDATE is YYYY-MM-DD HH:MM:SS", r)

r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "LITEBACKORDER", "DOMAIN": drop[1]})
check(code(r) == 200 and first(r, "CLASS").endswith("_LITEBACKORDER"), "lite order", r)
lite = first(r, "APPLICATION")

r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": ENV["BO_IDN_DOMAIN"]})
check(code(r) == 200, "IDN in Unicode", r)
check(first(r, "DOMAIN").startswith("xn--"), "the IDN is stored as its A-label", r)
check(first(r, "DOMAINUMLAUT") == ENV["BO_IDN_DOMAIN"], "DOMAINUMLAUT is the Unicode name", r)
idn = first(r, "APPLICATION")

r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": drop[0], "NEW": 0})
check(code(r) == 200 and first(r, "APPLICATION") == regular, "NEW=0 answers the open order", r)

# Status.
r = live.request({"COMMAND": "StatusDomainApplication", "APPLICATION": regular})
check(code(r) == 200 and first(r, "DOMAIN") == drop[0], "StatusDomainApplication", r)
fin = first(r, "FINALIZATIONDATE") or ""
check(len(fin) == 19 and fin != "0001-01-01 00:00:00", "a listed name has its FINALIZATIONDATE", r)
r = live.request({"COMMAND": "StatusDomainApplication", "APPLICATION": idn})
check(first(r, "FINALIZATIONDATE") == "0001-01-01 00:00:00", "an unlisted name: 0001-01-01 00:00:00", r)

# List with every page.
pages = live.requestAllResponsePages({"COMMAND": "QueryDomainApplicationList", "LIMIT": 2, "ORDERBY": "FINALIZATIONDATE"})
ids = [row for page in pages for row in (page.getColumn("APPLICATION").getData() if page.getColumn("APPLICATION") else [])]
check(len(pages) == 2, "requestAllResponsePages: 3 orders in pages of 2", pages[0])
check(sorted(ids) == sorted([regular, lite, idn]), "every order listed once", pages[0])
check(pages[0].getRecordsTotalCount() == 3, "TOTAL is 3", pages[0])
r = live.request({"COMMAND": "QueryDomainApplicationList", "CLASS": "LITEBACKORDER"})
check(r.getColumn("APPLICATION").getData() == [lite], "filter by CLASS", r)
r = live.request({"COMMAND": "QueryDomainApplicationList", "DOMAIN": "*" + drop[0][1:]})
check(r.getColumn("APPLICATION").getData() == [regular], "filter by DOMAIN pattern", r)

# Pay, modify, delete.
r = live.request({"COMMAND": "PayDomainApplication", "APPLICATION": regular})
check(code(r) == 200 and first(r, "STATUS") == "ACTIVE", "PayDomainApplication holds the price", r)
r = live.request({"COMMAND": "ModifyDomainApplication", "APPLICATION": lite, "AUTH": "wish-123", "OWNERCONTACT0": "P-ABC1"})
check(code(r) == 200 and first(r, "AUTH") == "wish-123", "ModifyDomainApplication", r)
check(first(r, "OWNERCONTACT0") == "P-ABC1", "the owner contact changed", r)
r = live.request({"COMMAND": "DeleteDomainApplication", "APPLICATION": idn})
check(code(r) == 200 and first(r, "DOMAIN").startswith("xn--"), "DeleteDomainApplication", r)
r = live.request({"COMMAND": "DeleteDomainApplication", "APPLICATION": idn})
check(code(r) == 200 and first(r, "STATUS") == "CANCELLED", "deleting again (a lost reply retried) answers the same", r)
r = live.request({"COMMAND": "PayDomainApplication", "APPLICATION": idn})
check(code(r) == 552, "paying a cancelled application: 552", r)

# Account.
r = live.request({"COMMAND": "StatusAccount"})
check(code(r) == 200 and first(r, "CURRENCY") == "USD", "StatusAccount", r)
check(first(r, "RESERVED") not in (None, "0.00"), "the paid order's money is reserved", r)

# Pending-delete list, several filters.
r = live.request({"COMMAND": "QueryDomainPendingDeleteList", "ZONE": ["com"], "LIMIT": 1000})
com = r.getColumn("DOMAIN").getData() if r.getColumn("DOMAIN") else []
check(code(r) == 200 and drop[0] in com, "pending-delete list by ZONE", r)
check(all(d.endswith(".com") for d in com), "only .com names", r)
label = drop[0].split(".")[0]
r = live.request({"COMMAND": "QueryDomainPendingDeleteList", "KEYWORD": [label[:4]], "KEYWORDMATCH": "BEGIN", "ORDERBY": "SCOREDESC", "FILTER": ["NOIDNS"]})
check(code(r) == 200 and drop[0] in r.getColumn("DOMAIN").getData(), "by KEYWORD, BEGIN, NOIDNS", r)
check(first(r, "SUBCLASS") in ("COM", "NET", "ORG"), "SUBCLASS is the zone in upper case", r)
pages = live.requestAllResponsePages({"COMMAND": "QueryDomainPendingDeleteList", "LIMIT": 2})
names = [d for p in pages for d in (p.getColumn("DOMAIN").getData() if p.getColumn("DOMAIN") else [])]
check(len(names) == len(set(names)) == pages[0].getRecordsTotalCount() and set(drop) <= set(names), "every listed name over pages of 2", pages[0])

# Error paths, each changing nothing.
r = live.request({"COMMAND": "NoSuchCommand"})
check(code(r) == 500, "unknown command: 500", r)
r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER"})
check(code(r) == 504 and "DOMAIN" in r.getDescription(), "missing DOMAIN: 504 naming it", r)
r = live.request({"COMMAND": "QueryDomainApplicationList", "LIMIT": "many"})
check(code(r) == 505 and "LIMIT" in r.getDescription(), "bad LIMIT: 505 naming it", r)
r = live.request({"COMMAND": "QueryDomainApplicationList", "LIMIT": 100000})
check(code(r) == 505, "LIMIT over the maximum: 505", r)
r = live.request({"COMMAND": "QueryDomainPendingDeleteList", "REGEXP": "(a+)+$" * 50})
check(code(r) in (505, 541), "a pathological REGEXP: refused", r)
r = live.request({"COMMAND": "StatusDomainApplication", "APPLICATION": "99999999"})
check(code(r) == 545, "unknown application: 545", r)
r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": "bad..name.com"})
check(code(r) == 505, "a malformed domain: 505", r)
r = live.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": "name.notatld"})
check(code(r) == 541, "a TLD not offered: 541", r)

poor = client(ENV["BO_LIVE_URL"])
poor.setCredentials(ENV["BO_POOR_USER"], ENV["BO_POOR_PASS"])
r = poor.request({"COMMAND": "StatusDomainApplication", "APPLICATION": regular})
check(code(r) == 531 and regular not in r.getDescription() and drop[0] not in r.getDescription(), "another account's application: 531 saying nothing of it", r)
r = poor.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": drop[2]})
poor_app = first(r, "APPLICATION")
r = poor.request({"COMMAND": "PayDomainApplication", "APPLICATION": poor_app})
check(code(r) == 546, "paying without funds: 546", r)
r = poor.request({"COMMAND": "StatusDomainApplication", "APPLICATION": poor_app})
check(first(r, "STATUS") == "REQUESTED", "the refused payment changed nothing", r)

readonly = client(ENV["BO_LIVE_URL"])
readonly.setRoleCredentials(ENV["BO_USER"], ENV["BO_RO_ROLE"], ENV["BO_RO_PASS"])
r = readonly.request({"COMMAND": "StatusDomainApplication", "APPLICATION": regular})
check(code(r) == 200, "a read-only role reads", r)
r = readonly.request({"COMMAND": "DeleteDomainApplication", "APPLICATION": regular})
check(code(r) == 531, "a read-only role may not delete: 531", r)

wrong = client(ENV["BO_LIVE_URL"])
wrong.setCredentials(ENV["BO_USER"], "not-the-password")
r = wrong.request({"COMMAND": "StatusAccount"})
check(code(r) == 530, "a wrong password: 530", r)

# The test environment: its own logins, orders and money.
ote = client(ENV["BO_OTE_URL"], live=False)
ote.setCredentials(ENV["BO_OTE_USER"], ENV["BO_OTE_PASS"])
r = ote.request({"COMMAND": "StatusAccount"})
check(code(r) == 200, "the test environment by its own address", r)
ote_by_entity = client(ENV["BO_LIVE_URL"], live=False)
ote_by_entity.setCredentials(ENV["BO_OTE_USER"], ENV["BO_OTE_PASS"])
r = ote_by_entity.request({"COMMAND": "AddDomainApplication", "CLASS": "BACKORDER", "DOMAIN": "ote-only-example.com"})
check(code(r) == 200, "the test environment by s_entity=1234", r)
r = live.request({"COMMAND": "QueryDomainApplicationList", "DOMAIN": "ote-only-example.com"})
check(r.getRecordsTotalCount() == 0, "a test order is not in live", r)
r = ote.request({"COMMAND": "QueryDomainApplicationList", "DOMAIN": drop[0]})
check(r.getRecordsTotalCount() == 0, "a live order is not in test", r)
live_as_ote = client(ENV["BO_OTE_URL"], live=False)
live_as_ote.setCredentials(ENV["BO_USER"], ENV["BO_PASS"])
r = live_as_ote.request({"COMMAND": "StatusAccount"})
check(code(r) == 530, "a live login does not open the test environment", r)

# Log out: the session is gone.
session = live.getSession()
r = live.logout()
check(r.isSuccess() and live.getSession() is None, "logout()", r)
stale = client(ENV["BO_LIVE_URL"])
stale.setSession(session)
r = stale.request({"COMMAND": "StatusAccount"})
check(code(r) == 530 and "SESSION NOT FOUND" in r.getDescription(), "a session after logout: 530 SESSION NOT FOUND", r)

print("%d check(s) failed" % len(FAILED) if FAILED else "all checks passed")
sys.exit(1 if FAILED else 0)
