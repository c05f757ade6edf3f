package gateway

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// scrapeIAM returns the whole /metrics page of e's gateway and its IAM
// series (counter and histogram count lines) as series -> value.
func (e *iamEnv) scrapeIAM() (body string, series map[string]string) {
	e.t.Helper()
	return scrapeSeries(e.t, e.ts, "ssegate_iam_requests_total", "ssegate_iam_request_duration_seconds")
}

func wantSeries(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("IAM series\n got: %s\nwant: %s", strings.Join(sortedLines(got), "\n      "), strings.Join(sortedLines(want), "\n      "))
	}
}

func sortedLines(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	slices.Sort(out)
	return out
}

func TestIAMMetricsCountEachActionByIAMCodeWithoutNamesOrKeys(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	const user = "metricsuserzq"
	k := e.createUserWithKey(user) // CreateUser OK, CreateAccessKey OK
	st, body := e.iam(k.AccessKeyId, k.SecretAccessKey, "Action", "ListUsers")
	wantIAMError(t, st, body, 403, "AccessDenied")
	st, body = e.root("Action", "CreateRole", "RoleName", "rolenamezq")
	wantIAMError(t, st, body, 400, "InvalidAction")
	st, body = e.root("Action", "GetUser", "UserName", "nobodyzq")
	wantIAMError(t, st, body, 404, "NoSuchEntity")
	// A failed signature is counted before the action is known.
	st, body = e.iam(testAccessKey, "wrong-secret", "Action", "ListUsers")
	wantIAMError(t, st, body, 403, "SignatureDoesNotMatch")

	scrape, got := e.scrapeIAM()
	wantSeries(t, got, map[string]string{
		`ssegate_iam_requests_total{action="CreateUser",code="OK"}`:                 "1",
		`ssegate_iam_requests_total{action="CreateAccessKey",code="OK"}`:            "1",
		`ssegate_iam_requests_total{action="ListUsers",code="AccessDenied"}`:        "1",
		`ssegate_iam_requests_total{action="unknown",code="InvalidAction"}`:         "1",
		`ssegate_iam_requests_total{action="GetUser",code="NoSuchEntity"}`:          "1",
		`ssegate_iam_requests_total{action="unknown",code="SignatureDoesNotMatch"}`: "1",
		`ssegate_iam_request_duration_seconds_count{action="CreateUser"}`:           "1",
		`ssegate_iam_request_duration_seconds_count{action="CreateAccessKey"}`:      "1",
		`ssegate_iam_request_duration_seconds_count{action="ListUsers"}`:            "1",
		`ssegate_iam_request_duration_seconds_count{action="GetUser"}`:              "1",
		`ssegate_iam_request_duration_seconds_count{action="unknown"}`:              "2",
	})
	// IAM calls are not S3 requests: they must not appear under S3's op.
	if strings.Contains(scrape, "ssegate_requests_total{") {
		t.Errorf("IAM calls were counted as S3 requests:\n%s", scrape)
	}
	// /metrics is unauthenticated: no user name, access key id, secret or
	// other client-chosen value may reach it.
	for _, s := range []string{user, k.AccessKeyId, k.SecretAccessKey, testAccessKey, testSecretKey, "CreateRole", "rolenamezq", "nobodyzq"} {
		if strings.Contains(scrape, s) {
			t.Errorf("/metrics contains %q", s)
		}
	}
}

func TestIAMMetricsFoldBogusActionsIntoOneUnknownSeries(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	const n = 50
	for i := range n {
		st, body := e.root("Action", fmt.Sprintf("BogusAction%02dzq", i))
		wantIAMError(t, st, body, 400, "InvalidAction")
	}
	scrape, got := e.scrapeIAM()
	wantSeries(t, got, map[string]string{
		`ssegate_iam_requests_total{action="unknown",code="InvalidAction"}`: fmt.Sprint(n),
		`ssegate_iam_request_duration_seconds_count{action="unknown"}`:      fmt.Sprint(n),
	})
	if strings.Contains(scrape, "BogusAction") {
		t.Errorf("/metrics names a bogus action")
	}
}

// The label helper is the cardinality bound: every served action keeps its
// name, anything else (including the empty action of an unauthenticated
// request and near-misses in case) is "unknown".
func TestIAMActionLabelIsAKnownActionOrUnknown(t *testing.T) {
	for action := range iamActions {
		if got := iamActionLabel(action); got != action {
			t.Errorf("iamActionLabel(%q) = %q", action, got)
		}
	}
	for _, action := range []string{"", "createuser", "CreateUser ", "CreateRole", "unknown", strings.Repeat("A", 1000)} {
		if got := iamActionLabel(action); got != "unknown" {
			t.Errorf("iamActionLabel(%q) = %q, want unknown", action, got)
		}
	}
}
