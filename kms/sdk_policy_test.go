package kms

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestSDKKeyPolicyAndGrantRoundTrips drives the new operations with
// aws-sdk-go-v2, so the JSON field names are AWS's.
func TestSDKKeyPolicyAndGrantRoundTrips(t *testing.T) {
	tc := newTestCore(t)
	srv := httptest.NewServer(callerMiddleware(NewHandler(tc.Core, nil)))
	t.Cleanup(srv.Close)
	client := awskms.New(awskms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
	})
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}`
	created, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(doc)})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	key := created.KeyMetadata.KeyId
	got, err := client.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: key, PolicyName: aws.String("default")})
	if err != nil || aws.ToString(got.Policy) != doc || aws.ToString(got.PolicyName) != "default" {
		t.Fatalf("GetKeyPolicy = %v, %v", got, err)
	}
	_, err = client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: key, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]`)})
	var malformed *types.MalformedPolicyDocumentException
	if !errors.As(err, &malformed) {
		t.Fatalf("PutKeyPolicy with a malformed policy = %v, want MalformedPolicyDocumentException", err)
	}
	names, err := client.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{KeyId: key})
	if err != nil || len(names.PolicyNames) != 1 || names.PolicyNames[0] != "default" {
		t.Fatalf("ListKeyPolicies = %v, %v", names, err)
	}

	grant, err := client.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: key, GranteePrincipal: aws.String(aliceARN), RetiringPrincipal: aws.String(bobARN),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}},
		Name:        aws.String("sdk"),
	})
	if err != nil || aws.ToString(grant.GrantId) == "" || aws.ToString(grant.GrantToken) == "" {
		t.Fatalf("CreateGrant = %v, %v", grant, err)
	}
	list, err := client.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key})
	if err != nil || len(list.Grants) != 1 {
		t.Fatalf("ListGrants = %v, %v", list, err)
	}
	g := list.Grants[0]
	if aws.ToString(g.GrantId) != aws.ToString(grant.GrantId) || aws.ToString(g.Name) != "sdk" || g.CreationDate == nil ||
		g.Constraints == nil || g.Constraints.EncryptionContextSubset["app"] != "x" || len(g.Operations) != 2 ||
		!strings.HasSuffix(aws.ToString(g.KeyId), aws.ToString(key)) {
		t.Fatalf("grant entry = %+v", g)
	}
	retirable, err := client.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(bobARN)})
	if err != nil || len(retirable.Grants) != 1 {
		t.Fatalf("ListRetirableGrants = %v, %v", retirable, err)
	}
	_, err = client.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("x"), GrantTokens: []string{"gt1-unknown"}})
	var badToken *types.InvalidGrantTokenException
	if !errors.As(err, &badToken) {
		t.Fatalf("Encrypt with an unknown grant token = %v", err)
	}
	if _, err := client.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: grant.GrantToken}); err != nil {
		t.Fatalf("RetireGrant: %v", err)
	}
	_, err = client.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: key, GrantId: grant.GrantId})
	var notFound *types.NotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("RevokeGrant of a retired grant = %v, want NotFoundException", err)
	}
}
