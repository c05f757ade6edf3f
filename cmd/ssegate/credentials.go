package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ssegate/ssegate/kms"
)

// rootCredentials are the S3 (and KMS API) credentials of the one root user.
type rootCredentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// String never shows the secret.
func (c rootCredentials) String() string { return "access key " + c.AccessKey }

const credentialsFile = "credentials.json"

// loadOrCreateCredentials returns the credentials in dir/credentials.json,
// creating the file (0600) with fresh random ones on first start so that a
// restart keeps working with the same client configuration. created tells
// the caller to show the secret to the operator, once.
func loadOrCreateCredentials(dir string) (creds rootCredentials, created bool, err error) {
	path := filepath.Join(dir, credentialsFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &creds); err != nil || creds.AccessKey == "" || creds.SecretKey == "" {
			// Don't include the parse error: it may quote file content.
			return rootCredentials{}, false, fmt.Errorf("%s is not a valid credentials file", path)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return rootCredentials{}, false, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		return creds, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return rootCredentials{}, false, fmt.Errorf("read credentials: %w", err)
	}

	ak, sk := kms.NewCredentials()
	creds = rootCredentials{
		AccessKey: ak,
		SecretKey: sk,
	}
	data, err = json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return rootCredentials{}, false, err
	}
	// O_EXCL: two instances racing on one data dir must not hand out
	// different secrets.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return rootCredentials{}, false, fmt.Errorf("create credentials: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return rootCredentials{}, false, fmt.Errorf("write credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return rootCredentials{}, false, fmt.Errorf("write credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return rootCredentials{}, false, fmt.Errorf("write credentials: %w", err)
	}
	return creds, true, nil
}

// credentialsBanner is shown on stderr when credentials were just created,
// so the operator can paste it into a shell. It is the only place the
// secret is ever printed.
func credentialsBanner(c rootCredentials, region, endpoint, file string) string {
	return fmt.Sprintf(`
ssegate generated root credentials (saved in %s; shown only this once):

    export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s
    aws --endpoint-url %s s3 ls

`, file, c.AccessKey, c.SecretKey, region, endpoint)
}
