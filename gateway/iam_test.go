package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store/fs"
)

// settableClock is the KMS clock of these tests: it moves the access key
// cache past its TTL without sleeping.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedLog collects slog output across goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type iamEnv struct {
	t      *testing.T
	ts     *httptest.Server
	core   *kms.Core
	clock  *settableClock
	log    *lockedLog
	dbPath string
	master []byte
}

// newIAMEnv starts a gateway whose users live in a real kms.Core (nil
// users: the gateway gets no UserDirectory, as with a remote KMS).
func newIAMEnv(t *testing.T, withUsers bool, region string) *iamEnv {
	t.Helper()
	e := &iamEnv{t: t, clock: &settableClock{t: time.Now()}, log: &lockedLog{},
		dbPath: filepath.Join(t.TempDir(), "kms.db"), master: bytes.Repeat([]byte{9}, kms.MasterKeySize)}
	e.core = e.openCore()
	e.ts = e.serve(e.core, withUsers, region)
	return e
}

func (e *iamEnv) openCore() *kms.Core {
	e.t.Helper()
	core, err := kms.Open(context.Background(), e.dbPath, e.master, kms.Options{MaintenanceInterval: -1, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { core.Close() })
	return core
}

func (e *iamEnv) serve(core *kms.Core, withUsers bool, region string) *httptest.Server {
	e.t.Helper()
	st, err := fs.New(e.t.TempDir())
	if err != nil {
		e.t.Fatal(err)
	}
	deps := Deps{
		Store: st, KMS: core,
		Credentials: staticCreds{testAccessKey: {AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root"}},
		Logger:      slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if withUsers {
		deps.Users = core
	}
	srv, err := New(Config{Region: region}, deps)
	if err != nil {
		e.t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	e.t.Cleanup(ts.Close)
	return ts
}

// signedReq signs a request for service and region with the given key.
func signedReq(t *testing.T, method, rawURL string, body []byte, ak, sk, service, region string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", payload)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, payload, service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// iam calls an IAM action as (ak, sk), signed for us-east-1.
func (e *iamEnv) iam(ak, sk string, params ...string) (int, string) {
	e.t.Helper()
	return e.iamIn(iamSigningRegion, ak, sk, params...)
}

func (e *iamEnv) iamIn(region, ak, sk string, params ...string) (int, string) {
	e.t.Helper()
	form := url.Values{"Version": {"2010-05-08"}}
	for i := 0; i+1 < len(params); i += 2 {
		form.Set(params[i], params[i+1])
	}
	return do(e.t, signedReq(e.t, http.MethodPost, e.ts.URL+"/", []byte(form.Encode()), ak, sk, "iam", region))
}

func (e *iamEnv) root(params ...string) (int, string) {
	e.t.Helper()
	return e.iam(testAccessKey, testSecretKey, params...)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type testIAMError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Type    string   `xml:"Error>Type"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	ReqID   string   `xml:"RequestId"`
}

func wantIAMError(t *testing.T, status int, body string, wantStatus int, wantCode string) testIAMError {
	t.Helper()
	var e testIAMError
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("status %d: not an IAM error: %s", status, body)
	}
	if status != wantStatus || e.Code != wantCode || e.XMLNS != iamXMLNS || e.ReqID == "" || e.Message == "" {
		t.Fatalf("got %d %+v, want %d %s", status, e, wantStatus, wantCode)
	}
	return e
}

type iamTestKey struct {
	UserName, AccessKeyId, Status, SecretAccessKey, CreateDate string
}

func (e *iamEnv) createUserWithKey(name string) iamTestKey {
	e.t.Helper()
	if st, body := e.root("Action", "CreateUser", "UserName", name); st != 200 {
		e.t.Fatalf("CreateUser %s = %d %s", name, st, body)
	}
	st, body := e.root("Action", "CreateAccessKey", "UserName", name)
	if st != 200 {
		e.t.Fatalf("CreateAccessKey = %d %s", st, body)
	}
	var out struct {
		XMLName xml.Name   `xml:"CreateAccessKeyResponse"`
		Key     iamTestKey `xml:"CreateAccessKeyResult>AccessKey"`
		ReqID   string     `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &out); err != nil || out.Key.AccessKeyId == "" || len(out.Key.SecretAccessKey) != 40 || out.ReqID == "" {
		e.t.Fatalf("CreateAccessKey body %s: %v", body, err)
	}
	return out.Key
}

func TestIAMUserLifecycleAnswersInIAMShape(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	st, body := e.root("Action", "CreateUser", "UserName", "alice")
	var cu struct {
		XMLName xml.Name `xml:"CreateUserResponse"`
		XMLNS   string   `xml:"xmlns,attr"`
		User    struct {
			Path, UserName, UserId, Arn, CreateDate string
		} `xml:"CreateUserResult>User"`
		ReqID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &cu); err != nil || st != 200 {
		t.Fatalf("CreateUser = %d %s (%v)", st, body, err)
	}
	if cu.XMLNS != iamXMLNS || cu.User.Path != "/" || cu.User.UserName != "alice" || !strings.HasPrefix(cu.User.UserId, "AIDA") ||
		cu.User.Arn != "arn:aws:iam::000000000000:user/alice" || cu.User.CreateDate == "" || cu.ReqID == "" {
		t.Fatalf("CreateUser answer %+v", cu)
	}
	if _, err := time.Parse(time.RFC3339, cu.User.CreateDate); err != nil {
		t.Fatalf("CreateDate %q: %v", cu.User.CreateDate, err)
	}

	st, body = e.root("Action", "GetUser", "UserName", "alice")
	if st != 200 || !strings.Contains(body, "<GetUserResponse xmlns=\""+iamXMLNS+"\"><GetUserResult><User><Path>/</Path><UserName>alice</UserName>") {
		t.Fatalf("GetUser = %d %s", st, body)
	}
	st, body = e.root("Action", "GetUser")
	if st != 200 || !strings.Contains(body, "<Arn>arn:aws:iam::000000000000:root</Arn>") || strings.Contains(body, "<UserName>") {
		t.Fatalf("GetUser of the root = %d %s", st, body)
	}
	e.root("Action", "CreateUser", "UserName", "bob")
	st, body = e.root("Action", "ListUsers")
	if st != 200 || !strings.Contains(body, "<ListUsersResult><Users><member><Path>/</Path><UserName>alice</UserName>") ||
		!strings.Contains(body, "<UserName>bob</UserName>") || !strings.Contains(body, "<IsTruncated>false</IsTruncated>") {
		t.Fatalf("ListUsers = %d %s", st, body)
	}
	st, body = e.root("Action", "ListUsers", "MaxItems", "1")
	if st != 200 || !strings.Contains(body, "<IsTruncated>true</IsTruncated><Marker>bob</Marker>") || strings.Contains(body, "<UserName>bob") {
		t.Fatalf("ListUsers MaxItems 1 = %d %s", st, body)
	}
	st, body = e.root("Action", "ListUsers", "Marker", "bob")
	if st != 200 || strings.Contains(body, "alice") || !strings.Contains(body, "<UserName>bob</UserName>") {
		t.Fatalf("ListUsers from marker = %d %s", st, body)
	}

	st, body = e.root("Action", "CreateAccessKey", "UserName", "alice")
	if st != 200 || !strings.Contains(body, "<CreateAccessKeyResult><AccessKey><UserName>alice</UserName><AccessKeyId>AKIA") ||
		!strings.Contains(body, "<Status>Active</Status><SecretAccessKey>") {
		t.Fatalf("CreateAccessKey = %d %s", st, body)
	}
	var ck struct {
		Key iamTestKey `xml:"CreateAccessKeyResult>AccessKey"`
	}
	xml.Unmarshal([]byte(body), &ck)
	st, body = e.root("Action", "ListAccessKeys", "UserName", "alice")
	if st != 200 || !strings.Contains(body, "<ListAccessKeysResult><UserName>alice</UserName><AccessKeyMetadata><member><UserName>alice</UserName><AccessKeyId>"+ck.Key.AccessKeyId+"</AccessKeyId><Status>Active</Status><CreateDate>") ||
		strings.Contains(body, ck.Key.SecretAccessKey) {
		t.Fatalf("ListAccessKeys = %d %s", st, body)
	}
	st, body = e.root("Action", "UpdateAccessKey", "UserName", "alice", "AccessKeyId", ck.Key.AccessKeyId, "Status", "Inactive")
	if st != 200 || !strings.Contains(body, "<UpdateAccessKeyResponse xmlns=\""+iamXMLNS+"\"><ResponseMetadata><RequestId>") {
		t.Fatalf("UpdateAccessKey = %d %s", st, body)
	}
	if _, body = e.root("Action", "ListAccessKeys", "UserName", "alice"); !strings.Contains(body, "<Status>Inactive</Status>") {
		t.Fatalf("after UpdateAccessKey: %s", body)
	}
	if st, body = e.root("Action", "DeleteAccessKey", "UserName", "alice", "AccessKeyId", ck.Key.AccessKeyId); st != 200 || !strings.Contains(body, "<DeleteAccessKeyResponse") {
		t.Fatalf("DeleteAccessKey = %d %s", st, body)
	}
	if st, body = e.root("Action", "DeleteUser", "UserName", "alice"); st != 200 || !strings.Contains(body, "<DeleteUserResponse") {
		t.Fatalf("DeleteUser = %d %s", st, body)
	}
	st, body = e.root("Action", "GetUser", "UserName", "alice")
	wantIAMError(t, st, body, 404, "NoSuchEntity")
}

func TestIAMErrorsHaveIAMCodesAndStatuses(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	e.createUserWithKey("full")
	e.root("Action", "CreateAccessKey", "UserName", "full")
	for _, tc := range []struct {
		name   string
		params []string
		status int
		code   string
		msg    string
	}{
		{"unknown user", []string{"Action", "GetUser", "UserName", "nobody"}, 404, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"unknown access key", []string{"Action", "DeleteAccessKey", "UserName", "full", "AccessKeyId", "AKIA0000000000000000"}, 404, "NoSuchEntity", "The Access Key with id AKIA0000000000000000 cannot be found."},
		{"duplicate ignoring case", []string{"Action", "CreateUser", "UserName", "FULL"}, 409, "EntityAlreadyExists", "User with name FULL already exists."},
		{"third key", []string{"Action", "CreateAccessKey", "UserName", "full"}, 409, "LimitExceeded", "AccessKeysPerUser"},
		{"user with keys", []string{"Action", "DeleteUser", "UserName", "full"}, 409, "DeleteConflict", "must delete access keys first"},
		{"bad name", []string{"Action", "CreateUser", "UserName", "a/b"}, 400, "ValidationError", "userName"},
		{"long name", []string{"Action", "CreateUser", "UserName", strings.Repeat("n", 65)}, 400, "ValidationError", "userName"},
		{"missing name", []string{"Action", "CreateUser"}, 400, "ValidationError", "'userName'"},
		{"bad status", []string{"Action", "UpdateAccessKey", "UserName", "full", "AccessKeyId", "AKIA0000000000000000", "Status", "On"}, 400, "ValidationError", "status"},
		{"root keys", []string{"Action", "CreateAccessKey"}, 400, "ValidationError", "UserName is required"},
		{"unknown action", []string{"Action", "CreateRole"}, 400, "InvalidAction", "CreateRole"},
		{"no action", nil, 400, "InvalidAction", "Could not find operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.root(tc.params...)
			got := wantIAMError(t, st, body, tc.status, tc.code)
			if !strings.Contains(got.Message, tc.msg) || got.Type != "Sender" {
				t.Fatalf("error %+v, want message with %q", got, tc.msg)
			}
		})
	}
	st, body := e.iam(testAccessKey, "wrong-secret", "Action", "ListUsers")
	wantIAMError(t, st, body, 403, "SignatureDoesNotMatch")
	st, body = e.iam("AKIAUNKNOWNUNKNOWN00", "whatever", "Action", "ListUsers")
	wantIAMError(t, st, body, 403, "InvalidClientTokenId")
	st, body = do(t, mustReq(t, http.MethodPost, e.ts.URL+"/?Action=ListUsers", nil))
	if st < 400 {
		t.Fatalf("unsigned IAM request = %d %s", st, body)
	}
}

func mustReq(t *testing.T, method, u string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIAMAcceptsActionInTheQueryOfAGet(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	e.root("Action", "CreateUser", "UserName", "q")
	req := signedReq(t, http.MethodGet, e.ts.URL+"/?Action=GetUser&UserName=q&Version=2010-05-08", nil, testAccessKey, testSecretKey, "iam", iamSigningRegion)
	if st, body := do(t, req); st != 200 || !strings.Contains(body, "<UserName>q</UserName>") {
		t.Fatalf("GET GetUser = %d %s", st, body)
	}
}

// IAM is global: clients sign it for us-east-1 whatever the gateway's
// region; the gateway's own region is accepted too, any other is not.
func TestIAMSigningRegions(t *testing.T) {
	e := newIAMEnv(t, true, "eu-west-1")
	for region, ok := range map[string]bool{"us-east-1": true, "eu-west-1": true, "ap-south-1": false} {
		st, body := e.iamIn(region, testAccessKey, testSecretKey, "Action", "ListUsers")
		if ok != (st == 200) {
			t.Errorf("signed for %s: %d %s", region, st, body)
		}
	}
}

func TestUserKeyAuthenticatesS3UntilDeleted(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	k := e.createUserWithKey("alice")
	s3put := func(ts *httptest.Server, bucket string) (int, string) {
		return do(t, signedReq(t, http.MethodPut, ts.URL+"/"+bucket, nil, k.AccessKeyId, k.SecretAccessKey, "s3", testRegion))
	}
	if st, body := s3put(e.ts, "alice-bucket"); st != 200 {
		t.Fatalf("user CreateBucket = %d %s", st, body)
	}
	// A second gateway on the same keystore (another process) caches the key.
	other := e.serve(e.openCore(), true, testRegion)
	if st, body := s3put(other, "alice-bucket-2"); st != 200 {
		t.Fatalf("user CreateBucket on the second gateway = %d %s", st, body)
	}
	if st, body := e.root("Action", "DeleteAccessKey", "UserName", "alice", "AccessKeyId", k.AccessKeyId); st != 200 {
		t.Fatalf("DeleteAccessKey = %d %s", st, body)
	}
	// The gateway that deleted it refuses at once.
	st, body := s3put(e.ts, "alice-bucket-3")
	if st != 403 || !strings.Contains(body, "<Code>InvalidAccessKeyId</Code>") {
		t.Fatalf("deleted key on the same gateway = %d %s", st, body)
	}
	// The other refuses once its cache entry is older than the TTL.
	e.clock.Advance(kms.AccessKeyCacheTTL)
	st, body = s3put(other, "alice-bucket-4")
	if st != 403 || !strings.Contains(body, "<Code>InvalidAccessKeyId</Code>") {
		t.Fatalf("deleted key on the second gateway after the TTL = %d %s", st, body)
	}
}

func TestInactiveUserKeyIsRefused(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	k := e.createUserWithKey("alice")
	e.root("Action", "UpdateAccessKey", "UserName", "alice", "AccessKeyId", k.AccessKeyId, "Status", "Inactive")
	st, body := do(t, signedReq(t, http.MethodGet, e.ts.URL+"/", nil, k.AccessKeyId, k.SecretAccessKey, "s3", testRegion))
	if st != 403 || !strings.Contains(body, "InvalidAccessKeyId") {
		t.Fatalf("inactive key = %d %s", st, body)
	}
}

func TestUserCallingIAMIsAccessDenied(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	k := e.createUserWithKey("alice")
	for _, params := range [][]string{
		{"Action", "ListUsers"},
		{"Action", "CreateUser", "UserName", "mallory"},
		{"Action", "CreateAccessKey", "UserName", "alice"},
		{"Action", "DeleteAccessKey", "UserName", "alice", "AccessKeyId", k.AccessKeyId},
	} {
		st, body := e.iam(k.AccessKeyId, k.SecretAccessKey, params...)
		got := wantIAMError(t, st, body, 403, "AccessDenied")
		if !strings.Contains(got.Message, "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:"+params[1]) {
			t.Errorf("message %q", got.Message)
		}
	}
	if _, body := e.root("Action", "GetUser", "UserName", "mallory"); !strings.Contains(body, "NoSuchEntity") {
		t.Fatal("a user created a user")
	}
	if _, body := e.root("Action", "ListAccessKeys", "UserName", "alice"); strings.Count(body, "<member>") != 1 {
		t.Fatalf("a user changed its keys: %s", body)
	}
}

func TestIAMWithoutUserDirectorySaysUsersNeedTheEmbeddedKMS(t *testing.T) {
	e := newIAMEnv(t, false, testRegion)
	st, body := e.root("Action", "CreateUser", "UserName", "alice")
	got := wantIAMError(t, st, body, 501, "InvalidAction")
	if !strings.Contains(got.Message, "embedded KMS") {
		t.Fatalf("message %q", got.Message)
	}
	// Root keeps working on S3.
	if st, body := do(t, signedReq(t, http.MethodPut, e.ts.URL+"/rootbucket", nil, testAccessKey, testSecretKey, "s3", testRegion)); st != 200 {
		t.Fatalf("root CreateBucket without users = %d %s", st, body)
	}
}

func TestSecretsNeverReachTheGatewayLog(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	k := e.createUserWithKey("alice")
	do(t, signedReq(t, http.MethodPut, e.ts.URL+"/alicebucket", nil, k.AccessKeyId, k.SecretAccessKey, "s3", testRegion))
	do(t, signedReq(t, http.MethodPut, e.ts.URL+"/alicebucket2", nil, k.AccessKeyId, "wrong-secret", "s3", testRegion))
	e.iam(k.AccessKeyId, k.SecretAccessKey, "Action", "ListUsers")
	e.root("Action", "ListAccessKeys", "UserName", "alice")
	e.root("Action", "DeleteAccessKey", "UserName", "alice", "AccessKeyId", k.AccessKeyId)
	logs := e.log.String()
	if !strings.Contains(logs, "iam:CreateAccessKey") || !strings.Contains(logs, k.AccessKeyId) {
		t.Fatalf("the log misses the IAM access lines: %s", logs)
	}
	for _, secret := range []string{k.SecretAccessKey, testSecretKey} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret is in the gateway log:\n%s", logs)
		}
	}
}

// The action and the user name are client input written to the access
// line: a 10 KiB action or name must not become a 10 KiB log line.
func TestIAMAccessLineBoundsClientInput(t *testing.T) {
	e := newIAMEnv(t, true, testRegion)
	longAction := "Bogus" + strings.Repeat("A", 10<<10)
	longUser := strings.Repeat("u", 10<<10)
	if status, _ := e.root("Action", longAction); status != http.StatusBadRequest {
		t.Fatalf("bogus action: status %d, want 400", status)
	}
	if status, _ := e.root("Action", "GetUser", "UserName", longUser); status < 400 {
		t.Fatalf("GetUser of a 10 KiB name: status %d, want an error", status)
	}
	for _, line := range strings.Split(e.log.String(), "\n") {
		if len(line) > 1024 {
			t.Fatalf("log line of %d bytes: %.120s…", len(line), line)
		}
	}
	if !strings.Contains(e.log.String(), "op=iam:BogusAAA") {
		t.Fatal("the access line no longer names the (cut) action")
	}
}
