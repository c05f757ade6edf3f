package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssegate/ssegate/kms"
)

// kmsAPICall posts body to the gateway's KMS JSON API with target and
// extra headers, signed with secret ("" leaves it unsigned), and returns
// the status, the __type ("" on success) and the body.
func kmsAPICall(t *testing.T, ts *httptest.Server, target, body, secret string, hdr map[string]string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if secret != "" {
		signKMS(t, req, []byte(body), secret)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Type string `json:"__type"`
	}
	if resp.StatusCode/100 != 2 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: error body is not JSON: %s", target, b)
		}
	}
	return resp.StatusCode, e.Type, b
}

// scrapeSeries returns the /metrics page of ts's gateway and the series
// (counter and histogram count lines) of the given metric families as
// series -> value: counter is the _total name, histogram the base name.
func scrapeSeries(t *testing.T, ts *httptest.Server, counter, histogram string) (body string, series map[string]string) {
	t.Helper()
	srv, ok := ts.Config.Handler.(*Server)
	if !ok {
		t.Fatalf("test server handler is %T, not *Server", ts.Config.Handler)
	}
	status, body := adminGet(t, srv, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics status %d", status)
	}
	series = map[string]string{}
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, counter+"{") || strings.HasPrefix(line, histogram+"_count{") {
			name, value, _ := strings.Cut(line, " ")
			series[name] = value
		}
	}
	return body, series
}

func TestKMSAPIMetricsCountEachOperationByTypeWithoutKeyIDsOrAliases(t *testing.T) {
	ts := newKMSGateway(t)
	const alias = "alias/metricsaliaszq"

	st, typ, body := kmsAPICall(t, ts, "TrentService.CreateKey", `{"Description":"metricsdesczq"}`, testSecretKey, nil)
	if st != http.StatusOK {
		t.Fatalf("CreateKey: %d %s %s", st, typ, body)
	}
	var created struct{ KeyMetadata struct{ KeyId, Arn string } }
	if err := json.Unmarshal(body, &created); err != nil || created.KeyMetadata.KeyId == "" {
		t.Fatalf("CreateKey response %s: %v", body, err)
	}
	keyID := created.KeyMetadata.KeyId
	if st, typ, body = kmsAPICall(t, ts, "TrentService.CreateAlias", fmt.Sprintf(`{"AliasName":%q,"TargetKeyId":%q}`, alias, keyID), testSecretKey, nil); st != http.StatusOK {
		t.Fatalf("CreateAlias: %d %s %s", st, typ, body)
	}
	const plaintext = "cGxhaW50ZXh0bWV0cmljc3px" // "plaintextmetricszq"
	encrypt := fmt.Sprintf(`{"KeyId":%q,"Plaintext":%q}`, alias, plaintext)
	if st, typ, body = kmsAPICall(t, ts, "TrentService.Encrypt", encrypt, testSecretKey, nil); st != http.StatusOK {
		t.Fatalf("Encrypt: %d %s %s", st, typ, body)
	}
	// Refused in serveKMS, before the handler: a via-service claim for
	// another region.
	if _, typ, _ = kmsAPICall(t, ts, "TrentService.Encrypt", encrypt, testSecretKey,
		map[string]string{kms.ViaServiceHeader: "s3.elsewhere-1.amazonaws.com"}); typ != "AccessDeniedException" {
		t.Fatalf("Encrypt via another region's S3: __type %q", typ)
	}
	const missing = "0b7e3c1e-5c1d-4f8e-9d2a-6f0e2d9c4b1a"
	if _, typ, _ = kmsAPICall(t, ts, "TrentService.DescribeKey", fmt.Sprintf(`{"KeyId":%q}`, missing), testSecretKey, nil); typ != "NotFoundException" {
		t.Fatalf("DescribeKey of a missing key: __type %q", typ)
	}
	// Authentication failures are counted under the target's operation.
	if _, typ, _ = kmsAPICall(t, ts, "TrentService.ListKeys", `{}`, "wrong-secret", nil); typ != "InvalidSignatureException" {
		t.Fatalf("bad signature: __type %q", typ)
	}
	if _, typ, _ = kmsAPICall(t, ts, "TrentService.RandomUnsignedzq", `{}`, "", nil); typ != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: __type %q", typ)
	}
	const random = 30
	for i := range random {
		target := fmt.Sprintf("TrentService.RandomOp%02dzq", i)
		switch i % 3 {
		case 1:
			target = fmt.Sprintf("RandomService_%02dzq.ListTables", i)
		case 2:
			target = fmt.Sprintf("TrentService.encrypt%02dzq", i) // a near miss in case
		}
		if _, typ, _ = kmsAPICall(t, ts, target, `{}`, testSecretKey, nil); typ != "UnknownOperationException" {
			t.Fatalf("%s: __type %q", target, typ)
		}
	}

	scrape, got := scrapeSeries(t, ts, "ssegate_kms_api_requests_total", "ssegate_kms_api_request_duration_seconds")
	want := map[string]string{
		`ssegate_kms_api_requests_total{code="OK",operation="CreateKey"}`:                                "1",
		`ssegate_kms_api_requests_total{code="OK",operation="CreateAlias"}`:                              "1",
		`ssegate_kms_api_requests_total{code="OK",operation="Encrypt"}`:                                  "1",
		`ssegate_kms_api_requests_total{code="AccessDeniedException",operation="Encrypt"}`:               "1",
		`ssegate_kms_api_requests_total{code="NotFoundException",operation="DescribeKey"}`:               "1",
		`ssegate_kms_api_requests_total{code="InvalidSignatureException",operation="ListKeys"}`:          "1",
		`ssegate_kms_api_requests_total{code="MissingAuthenticationTokenException",operation="unknown"}`: "1",
		`ssegate_kms_api_requests_total{code="UnknownOperationException",operation="unknown"}`:           fmt.Sprint(random),
		`ssegate_kms_api_request_duration_seconds_count{operation="CreateKey"}`:                          "1",
		`ssegate_kms_api_request_duration_seconds_count{operation="CreateAlias"}`:                        "1",
		`ssegate_kms_api_request_duration_seconds_count{operation="Encrypt"}`:                            "2",
		`ssegate_kms_api_request_duration_seconds_count{operation="DescribeKey"}`:                        "1",
		`ssegate_kms_api_request_duration_seconds_count{operation="ListKeys"}`:                           "1",
		`ssegate_kms_api_request_duration_seconds_count{operation="unknown"}`:                            fmt.Sprint(random + 1),
	}
	if !maps.Equal(got, want) {
		t.Fatalf("KMS API series\n got: %s\nwant: %s", strings.Join(sortedLines(got), "\n      "), strings.Join(sortedLines(want), "\n      "))
	}
	// KMS API calls are not S3 requests, nor the gateway's own KMS calls.
	for _, s := range []string{"ssegate_requests_total{", "ssegate_kms_requests_total{"} {
		if strings.Contains(scrape, s) {
			t.Errorf("KMS API calls were counted as %s…", s)
		}
	}
	// /metrics is unauthenticated: no key id, ARN, alias, description,
	// plaintext, access key or client-chosen target may reach it.
	for _, s := range []string{keyID, created.KeyMetadata.Arn, "metricsaliaszq", "metricsdesczq", plaintext,
		missing, testAccessKey, testSecretKey, "Random", "encrypt0", "elsewhere"} {
		if strings.Contains(scrape, s) {
			t.Errorf("/metrics contains %q", s)
		}
	}
}

// TestKMSOperationsListMatchesHandler keeps kmsOperations equal to what
// the embedded KMS handler serves: every listed operation is answered by
// something other than UnknownOperationException, and every other KMS
// operation the AWS SDK knows is UnknownOperationException (a served one
// missing from the list would be counted as "unknown").
func TestKMSOperationsListMatchesHandler(t *testing.T) {
	ts := newKMSGateway(t)
	for op := range kmsOperations {
		if _, typ, body := kmsAPICall(t, ts, "TrentService."+op, `{}`, testSecretKey, nil); typ == "UnknownOperationException" {
			t.Errorf("%s is listed but the handler does not serve it: %s", op, body)
		}
	}
	sdkOps := awsKMSOperations(t)
	if len(sdkOps) < 50 {
		t.Fatalf("found only %d operations on the AWS SDK's KMS client", len(sdkOps))
	}
	for _, op := range sdkOps {
		if kmsOperations[op] {
			continue
		}
		if _, typ, body := kmsAPICall(t, ts, "TrentService."+op, `{}`, testSecretKey, nil); typ != "UnknownOperationException" {
			t.Errorf("the handler serves %s (answer %s), but kmsOperations does not list it", op, body)
		}
	}
}

// awsKMSOperations lists the AWS KMS API operations: the methods of the
// SDK client shaped func(ctx, *<Op>Input, ...func(*Options)) (*<Op>Output, error).
func awsKMSOperations(t *testing.T) []string {
	t.Helper()
	var ops []string
	typ := reflect.TypeFor[*awskms.Client]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		ft := m.Type
		if ft.NumIn() == 4 && ft.NumOut() == 2 && ft.In(2).Kind() == reflect.Pointer &&
			ft.In(2).Elem().Name() == m.Name+"Input" {
			ops = append(ops, m.Name)
		}
	}
	return ops
}

func TestKMSOperationLabelIsAServedOperationOrUnknown(t *testing.T) {
	for op := range kmsOperations {
		if got := kmsOperationLabel("TrentService." + op); got != op {
			t.Errorf("kmsOperationLabel(TrentService.%s) = %q", op, got)
		}
	}
	for _, target := range []string{"", "Encrypt", "TrentService.", "TrentService.encrypt", "TrentService.Encrypt ",
		"trentservice.Encrypt", "DynamoDB_20120810.Encrypt", "TrentService.unknown", "TrentService." + strings.Repeat("A", 1000)} {
		if got := kmsOperationLabel(target); got != "unknown" {
			t.Errorf("kmsOperationLabel(%q) = %q, want unknown", target, got)
		}
	}
}

func TestKMSCodeLabelIsOKAKMSErrorTypeOrOther(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"success", 200, `{"KeyId":"k"}`, "OK"},
		{"error type", 400, `{"__type":"NotFoundException","message":"Key 'k' does not exist"}`, "NotFoundException"},
		{"internal", 500, `{"__type":"KMSInternalException","message":"internal error"}`, "KMSInternalException"},
		{"no type", 400, `{"message":"x"}`, "other"},
		{"empty body", 502, ``, "other"},
		{"not an exception name", 400, `{"__type":"alias/secret-name","message":""}`, "other"},
		{"not letters", 400, `{"__type":"Bad Exception","message":""}`, "other"},
		{"too long", 400, `{"__type":"` + strings.Repeat("A", 60) + `Exception"}`, "other"},
		{"truncated", 400, `{"__type":"NotFoundExcep`, "other"},
	} {
		if got := kmsCodeLabel(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: kmsCodeLabel = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The error capture is bounded, and successful bodies (which may carry
// plaintext) are never kept.
func TestKMSResponseWriterCapturesOnlyABoundedErrorPrefix(t *testing.T) {
	ok := &kmsResponseWriter{ResponseWriter: httptest.NewRecorder()}
	ok.Write([]byte(`{"Plaintext":"c2VjcmV0"}`))
	if ok.code() != "OK" || ok.errBody != nil {
		t.Fatalf("success: code %q, captured %q", ok.code(), ok.errBody)
	}
	bad := &kmsResponseWriter{ResponseWriter: httptest.NewRecorder()}
	bad.WriteHeader(http.StatusBadRequest)
	bad.Write([]byte(`{"__type":"ValidationException","message":"`))
	for range 100 {
		bad.Write([]byte(strings.Repeat("x", 1000)))
	}
	if len(bad.errBody) != maxKMSErrorCapture || bad.code() != "ValidationException" {
		t.Fatalf("error: captured %d bytes, code %q", len(bad.errBody), bad.code())
	}
}
