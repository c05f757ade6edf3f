package gateway

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/store"
)

// putEncryptionXML sends a raw PutBucketEncryption with a correct
// Content-MD5, for bodies no SDK would produce.
func (e *testEnv) putEncryptionXML(bucket, body string) *http.Response {
	e.t.Helper()
	sum := md5.Sum([]byte(body))
	return e.do(http.MethodPut, "/"+bucket+"?encryption", []byte(body),
		map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
}

func getEncryption(t *testing.T, c *s3.Client, bucket string) types.ServerSideEncryptionRule {
	t.Helper()
	out, err := c.GetBucketEncryption(context.Background(), &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	rules := out.ServerSideEncryptionConfiguration.Rules
	if len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault == nil {
		t.Fatalf("GetBucketEncryption rules = %+v, want exactly one with a default", rules)
	}
	return rules[0]
}

func TestBucketEncryptionRoundTripsThroughSDK(t *testing.T) {
	cases := []struct {
		name    string
		rule    types.ServerSideEncryptionRule
		wantAlg types.ServerSideEncryption
		wantKey string
		wantBK  bool
		want    bucketSSE
	}{
		{
			name:    "AES256",
			rule:    types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}},
			wantAlg: types.ServerSideEncryptionAes256,
			want:    bucketSSE{Algorithm: "AES256"},
		},
		{
			name: "KMSWithKeyAndBucketKey",
			rule: types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("alias/backups")},
				BucketKeyEnabled:                   aws.Bool(true),
			},
			wantAlg: types.ServerSideEncryptionAwsKms,
			wantKey: "alias/backups",
			wantBK:  true,
			want:    bucketSSE{Algorithm: "aws:kms", KMSKeyID: "alias/backups", BucketKeyEnabled: true},
		},
		{
			name: "KMSWithoutKeyBlockingSSEC",
			rule: types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms},
				BlockedEncryptionTypes:             &types.BlockedEncryptionTypes{EncryptionType: []types.EncryptionType{types.EncryptionTypeSseC}},
			},
			wantAlg: types.ServerSideEncryptionAwsKms,
			want:    bucketSSE{Algorithm: "aws:kms", BlockSSEC: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			e.mkbucket("enc")
			c := e.s3()
			ctx := context.Background()
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket:                            aws.String("enc"),
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{tc.rule}},
			})
			if err != nil {
				t.Fatalf("PutBucketEncryption: %v", err)
			}
			got := getEncryption(t, c, "enc")
			d := got.ApplyServerSideEncryptionByDefault
			if d.SSEAlgorithm != tc.wantAlg || aws.ToString(d.KMSMasterKeyID) != tc.wantKey || aws.ToBool(got.BucketKeyEnabled) != tc.wantBK {
				t.Fatalf("got alg %q key %q bucketKey %v, want %q %q %v", d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(got.BucketKeyEnabled), tc.wantAlg, tc.wantKey, tc.wantBK)
			}
			if tc.want.BlockSSEC {
				if got.BlockedEncryptionTypes == nil || len(got.BlockedEncryptionTypes.EncryptionType) != 1 || got.BlockedEncryptionTypes.EncryptionType[0] != types.EncryptionTypeSseC {
					t.Fatalf("BlockedEncryptionTypes = %+v, want [SSE-C]", got.BlockedEncryptionTypes)
				}
			}
			if v, err := e.srv.bucketEncryption(ctx, "enc"); err != nil || v != tc.want {
				t.Fatalf("bucketEncryption = %+v, %v; want %+v", v, err, tc.want)
			}
			// Stored as versioned JSON, not the client's XML.
			raw, err := e.srv.deps.Store.GetBucketConfig(ctx, "enc", "encryption")
			if err != nil || !json.Valid(raw) || !strings.Contains(string(raw), `"v":1`) {
				t.Fatalf("stored config = %q, %v; want versioned JSON", raw, err)
			}
		})
	}
}

func TestBucketEncryptionWithoutConfigReportsServerDefault(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want bucketSSE
	}{
		{"SSE-S3ByDefault", Config{}, bucketSSE{Algorithm: "AES256"}},
		{"OperatorChoseKMS", Config{DefaultSSE: "aws:kms", DefaultKMSKeyID: "alias/site"}, bucketSSE{Algorithm: "aws:kms", KMSKeyID: "alias/site"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			e.srv.cfg.DefaultSSE, e.srv.cfg.DefaultKMSKeyID = tc.cfg.DefaultSSE, tc.cfg.DefaultKMSKeyID
			e.mkbucket("plain")
			got := getEncryption(t, e.s3(), "plain")
			d := got.ApplyServerSideEncryptionByDefault
			if string(d.SSEAlgorithm) != tc.want.Algorithm || aws.ToString(d.KMSMasterKeyID) != tc.want.KMSKeyID || aws.ToBool(got.BucketKeyEnabled) {
				t.Fatalf("got alg %q key %q bucketKey %v, want %+v", d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(got.BucketKeyEnabled), tc.want)
			}
			if v, err := e.srv.bucketEncryption(context.Background(), "plain"); err != nil || v != tc.want {
				t.Fatalf("bucketEncryption = %+v, %v; want %+v", v, err, tc.want)
			}
		})
	}
}

func TestDeleteBucketEncryptionRestoresServerDefault(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("enc")
	c := e.s3()
	ctx := context.Background()
	wantStatusCode(t, e.putEncryptionXML("enc", `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>`), 200, "")
	// Prime the cache, so the test shows that Delete invalidates it.
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v.Algorithm != "aws:kms" || !v.BlockSSEC {
		t.Fatalf("before delete: %+v", v)
	}
	for range 2 { // idempotent
		resp := e.do(http.MethodDelete, "/enc?encryption", nil, nil)
		wantStatusCode(t, resp, http.StatusNoContent, "")
	}
	if got := getEncryption(t, c, "enc"); got.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 || got.BlockedEncryptionTypes != nil {
		t.Fatalf("after delete GetBucketEncryption = %+v", got)
	}
	if v, err := e.srv.bucketEncryption(ctx, "enc"); err != nil || v != (bucketSSE{Algorithm: "AES256"}) {
		t.Fatalf("after delete bucketEncryption = %+v, %v", v, err)
	}
	if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatalf("SDK DeleteBucketEncryption: %v", err)
	}
}

func TestPutBucketEncryptionInvalidatesCachedValue(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("enc")
	ctx := context.Background()
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v.Algorithm != "AES256" {
		t.Fatalf("initial: %+v", v)
	}
	wantStatusCode(t, e.putEncryptionXML("enc", `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`), 200, "")
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v != (bucketSSE{Algorithm: "aws:kms", BucketKeyEnabled: true}) {
		t.Fatalf("after put: %+v", v)
	}
}

func TestBucketEncryptionCacheExpires(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("enc")
	ctx := context.Background()
	now := e.srv.now()
	e.srv.now = func() time.Time { return now }
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v.Algorithm != "AES256" {
		t.Fatalf("initial: %+v", v)
	}
	// A change made behind this gateway's back (another instance on the same
	// backend) is seen once the entry expires, not before.
	data := []byte(`{"v":1,"alg":"aws:kms","key":"other"}`)
	if err := e.srv.deps.Store.PutBucketConfig(ctx, "enc", "encryption", data); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v.Algorithm != "AES256" {
		t.Fatalf("within TTL: %+v, want cached AES256", v)
	}
	e.srv.now = func() time.Time { return now.Add(encCacheTTL) }
	if v, _ := e.srv.bucketEncryption(ctx, "enc"); v != (bucketSSE{Algorithm: "aws:kms", KMSKeyID: "other"}) {
		t.Fatalf("after TTL: %+v", v)
	}
}

func TestCorruptStoredEncryptionConfigIsAnErrorNotTheDefault(t *testing.T) {
	for _, blob := range []string{`<xml/>`, `{"v":2,"alg":"AES256"}`, `{"v":1,"alg":"none"}`} {
		e := newEnv(t, false)
		e.mkbucket("enc")
		if err := e.srv.deps.Store.PutBucketConfig(context.Background(), "enc", "encryption", []byte(blob)); err != nil {
			t.Fatal(err)
		}
		if v, err := e.srv.bucketEncryption(context.Background(), "enc"); err == nil {
			t.Fatalf("blob %q: bucketEncryption = %+v, want an error", blob, v)
		}
		resp := e.do(http.MethodGet, "/enc?encryption", nil, nil)
		wantStatusCode(t, resp, http.StatusInternalServerError, "InternalError")
	}
}

func TestPutBucketEncryptionRejectsInvalidConfig(t *testing.T) {
	const (
		head = `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
		tail = `</ServerSideEncryptionConfiguration>`
	)
	rule := func(inner string) string { return "<Rule>" + inner + "</Rule>" }
	def := func(inner string) string {
		return "<ApplyServerSideEncryptionByDefault>" + inner + "</ApplyServerSideEncryptionByDefault>"
	}
	aes := def("<SSEAlgorithm>AES256</SSEAlgorithm>")
	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"MalformedXML", head + rule(aes), 400, "MalformedXML"},
		{"EmptyBody", "", 400, "MalformedXML"},
		{"NoRule", head + tail, 400, "MalformedXML"},
		{"TwoRules", head + rule(aes) + rule(aes) + tail, 400, "MalformedXML"},
		{"RuleWithoutDefault", head + rule("<BucketKeyEnabled>true</BucketKeyEnabled>") + tail, 400, "MalformedXML"},
		{"MissingAlgorithm", head + rule(def("")) + tail, 400, "MalformedXML"},
		{"UnknownAlgorithm", head + rule(def("<SSEAlgorithm>SSE-KMS</SSEAlgorithm>")) + tail, 400, "MalformedXML"},
		{"LowercaseAlgorithm", head + rule(def("<SSEAlgorithm>aes256</SSEAlgorithm>")) + tail, 400, "MalformedXML"},
		{"DSSENotSupported", head + rule(def("<SSEAlgorithm>aws:kms:dsse</SSEAlgorithm>")) + tail, 501, "NotImplemented"},
		{"KeyIDWithAES256", head + rule(def("<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>alias/x</KMSMasterKeyID>")) + tail, 400, "InvalidArgument"},
		{"EmptyKeyID", head + rule(def("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID></KMSMasterKeyID>")) + tail, 400, "InvalidArgument"},
		{"UnknownBlockedType", head + rule(aes+"<BlockedEncryptionTypes><EncryptionType>SSE-KMS</EncryptionType></BlockedEncryptionTypes>") + tail, 400, "MalformedXML"},
		{"NoneWithSSEC", head + rule(aes+"<BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>") + tail, 400, "InvalidArgument"},
		{"BadBucketKeyBool", head + rule(aes+"<BucketKeyEnabled>yes</BucketKeyEnabled>") + tail, 400, "MalformedXML"},
	}
	e := newEnv(t, false)
	e.mkbucket("enc")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.putEncryptionXML("enc", tc.body), tc.status, tc.code)
			// Nothing was stored: the bucket still has no configuration.
			if _, err := e.srv.deps.Store.GetBucketConfig(context.Background(), "enc", "encryption"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a refused config was stored (err %v)", err)
			}
		})
	}
}

func TestPutBucketEncryptionIntegrity(t *testing.T) {
	body := []byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`)
	other := md5.Sum([]byte("something else"))
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"NoDigestIsRefused", nil, 400, "InvalidRequest"},
		{"WrongContentMD5IsBadDigest", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])}, 400, "BadDigest"},
		{"MalformedContentMD5IsInvalidDigest", map[string]string{"Content-MD5": "not-base64!"}, 400, "InvalidDigest"},
	}
	e := newEnv(t, false)
	e.mkbucket("enc")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.do(http.MethodPut, "/enc?encryption", body, tc.hdr), tc.status, tc.code)
			if v, _ := e.srv.bucketEncryption(context.Background(), "enc"); v.Algorithm != "AES256" {
				t.Fatalf("configuration changed by a refused request: %+v", v)
			}
		})
	}
}

func TestBucketEncryptionOnMissingBucketIsNoSuchBucket(t *testing.T) {
	e := newEnv(t, false)
	good := `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`
	wantStatusCode(t, e.putEncryptionXML("nobucket", good), 404, "NoSuchBucket")
	wantStatusCode(t, e.do(http.MethodGet, "/nobucket?encryption", nil, nil), 404, "NoSuchBucket")
	wantStatusCode(t, e.do(http.MethodDelete, "/nobucket?encryption", nil, nil), 404, "NoSuchBucket")
	if _, err := e.srv.bucketEncryption(context.Background(), "nobucket"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("bucketEncryption on missing bucket: %v, want ErrNoSuchBucket", err)
	}
	_, err := e.s3().GetBucketEncryption(context.Background(), &s3.GetBucketEncryptionInput{Bucket: aws.String("nobucket")})
	var nsb *types.NoSuchBucket
	if !errors.As(err, &nsb) && !strings.Contains(errString(err), "NoSuchBucket") {
		t.Fatalf("SDK GetBucketEncryption on missing bucket: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAWSCLIBucketEncryption drives the real aws-cli v2 (Debian's
// /usr/bin/aws) through put-, get- and delete-bucket-encryption.
func TestAWSCLIBucketEncryption(t *testing.T) {
	const cli = "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aws-cli not found at %s: %v", cli, err)
		}
		t.Skipf("aws-cli not found at %s; install Debian's awscli to run this test", cli)
	}
	e := newEnv(t, false)
	e.mkbucket("clibucket")
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", e.ts.URL, "--output", "json", "s3api"}, args...)...)
		cmd.Env = []string{
			"HOME=" + home, "PATH=/usr/bin:/bin",
			"AWS_ACCESS_KEY_ID=" + testAccessKey, "AWS_SECRET_ACCESS_KEY=" + testSecretKey,
			"AWS_DEFAULT_REGION=" + testRegion, "AWS_CONFIG_FILE=" + home + "/none", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/none",
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws s3api %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	run("put-bucket-encryption", "--bucket", "clibucket", "--server-side-encryption-configuration",
		`{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/x"},"BucketKeyEnabled":true}]}`)
	var got struct {
		ServerSideEncryptionConfiguration struct {
			Rules []struct {
				ApplyServerSideEncryptionByDefault struct{ SSEAlgorithm, KMSMasterKeyID string }
				BucketKeyEnabled                   bool
			}
		}
	}
	out := run("get-bucket-encryption", "--bucket", "clibucket")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("get-bucket-encryption output %q: %v", out, err)
	}
	rules := got.ServerSideEncryptionConfiguration.Rules
	if len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "aws:kms" ||
		rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID != "alias/x" || !rules[0].BucketKeyEnabled {
		t.Fatalf("get-bucket-encryption = %s", out)
	}
	run("delete-bucket-encryption", "--bucket", "clibucket")
	if out := run("get-bucket-encryption", "--bucket", "clibucket"); !strings.Contains(out, `"AES256"`) || strings.Contains(out, "alias/x") {
		t.Fatalf("after delete get-bucket-encryption = %s", out)
	}
}

func TestEncCacheDropsValueReadBeforeInvalidation(t *testing.T) {
	var c bucketCache[bucketSSE]
	now := time.Now()
	gen := c.generation() // a lookup starts reading the store...
	c.invalidate("b")     // ...a PutBucketEncryption lands meanwhile...
	c.put("b", bucketSSE{Algorithm: "AES256"}, now.Add(time.Minute), gen)
	if v, ok := c.get("b", now); ok {
		t.Fatalf("stale value cached after invalidation: %+v", v)
	}
	c.put("b", bucketSSE{Algorithm: "aws:kms"}, now.Add(time.Minute), c.generation())
	if v, ok := c.get("b", now); !ok || v.Algorithm != "aws:kms" {
		t.Fatalf("fresh value not cached: %+v, %v", v, ok)
	}
}

func TestBucketEncryptionConcurrentWithPutSettlesOnLastConfig(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("enc")
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				if _, err := e.srv.bucketEncryption(ctx, "enc"); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	kms := `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`
	aes := `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`
	for i := range 20 {
		body := aes
		if i%2 == 0 {
			body = kms
		}
		wantStatusCode(t, e.putEncryptionXML("enc", body), 200, "")
	}
	close(stop)
	<-done
	if v, err := e.srv.bucketEncryption(ctx, "enc"); err != nil || v.Algorithm != "AES256" {
		t.Fatalf("after the last Put (AES256): %+v, %v", v, err)
	}
}
