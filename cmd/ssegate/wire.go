package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/ssegate/ssegate/gateway"
	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// wire opens the backend and the KMS and builds the gateway from cfg.
func wire(ctx context.Context, cfg Config, creds rootCredentials, logger *slog.Logger) (a app, err error) {
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	st, err := openBackend(ctx, cfg.Backend, cfg.Region)
	if err != nil {
		return app{}, err
	}

	var svc kms.Service
	var kmsAPI http.Handler
	// users stays nil with a remote KMS: users live in the embedded keystore.
	var users gateway.UserDirectory
	if cfg.KMSEndpoint != "" {
		remote, err := kms.NewRemote(ctx, kms.RemoteConfig{
			Endpoint: cfg.KMSEndpoint, Region: cfg.Region,
			AccessKey: cfg.KMSAccessKey, SecretKey: cfg.KMSSecretKey,
			HTTPClient: cfg.kmsHTTPClient(),
			ViaService: "s3." + cfg.Region + ".amazonaws.com",
		})
		if err != nil {
			return app{}, fmt.Errorf("remote KMS: %w", err)
		}
		svc = remote
	} else {
		masterKey := cfg.MasterKey
		if masterKey == nil {
			if masterKey, err = kms.LoadOrCreateMasterKey(cfg.MasterKeyFile); err != nil {
				return app{}, fmt.Errorf("master key: %w", err)
			}
		}
		audit, err := os.OpenFile(filepath.Join(cfg.DataDir, "kms-audit.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return app{}, fmt.Errorf("KMS audit log: %w", err)
		}
		closers = append(closers, audit.Close)
		core, err := kms.Open(ctx, filepath.Join(cfg.DataDir, "kms.db"), masterKey, kms.Options{
			Region: cfg.Region, AccountID: cfg.AccountID,
			Logger: logger.With("component", "kms"), AuditWriter: audit,
			Peers: cfg.kmsPeers(), Quotas: cfg.KMSQuotas,
		})
		// Open keeps its own copy; ours need not outlive it.
		clear(masterKey)
		if err != nil {
			return app{}, fmt.Errorf("embedded KMS: %w", err)
		}
		closers = append(closers, core.Close)
		svc = core
		users = core
		kmsAPI = kms.NewHandler(core, logger.With("component", "kms-api"))
	}

	srv, err := gateway.New(gateway.Config{
		Region:            cfg.Region,
		Domains:           cfg.Domains,
		AllowInsecureSSEC: cfg.AllowInsecureSSEC,
		DefaultSSE:        cfg.DefaultSSE,
		DefaultKMSKeyID:   cfg.DefaultKMSKeyID,
		Compression:       cfg.compression(),
		SSES3KeyID:        cfg.SSES3KeyID,
	}, gateway.Deps{
		Store:  st,
		KMS:    svc,
		KMSAPI: kmsAPI,
		Credentials: staticCredentials{gateway.Credential{
			AccessKey: creds.AccessKey,
			SecretKey: creds.SecretKey,
			ARN:       "arn:aws:iam::" + cfg.AccountID + ":root",
		}},
		// The gateway consults these after the root credentials.
		Users:  users,
		Logger: logger,
	})
	if err != nil {
		return app{}, err
	}
	closers = append(closers, srv.Close)
	return app{handler: srv, admin: srv.AdminHandler(), close: closeAll}, nil
}

func openBackend(ctx context.Context, b Backend, region string) (store.Store, error) {
	switch b.Kind {
	case "fs":
		st, err := fs.New(b.Path)
		if err != nil {
			return nil, fmt.Errorf("fs backend: %w", err)
		}
		return st, nil
	case "minio":
		return openMinIO(ctx, b, region)
	}
	return nil, fmt.Errorf("%w: unknown backend %q", ErrConfig, b.Kind)
}

// staticCredentials are the root credentials; users' access keys come
// from Deps.Users.
type staticCredentials []gateway.Credential

func (s staticCredentials) Lookup(accessKey string) (gateway.Credential, bool) {
	for _, c := range s {
		if c.AccessKey == accessKey {
			return c, true
		}
	}
	return gateway.Credential{}, false
}
