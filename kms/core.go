package kms

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Options configure a Core. Zero values are usable.
type Options struct {
	Region    string // default "us-east-1"
	AccountID string // 12 digits, default "000000000000"
	Logger    *slog.Logger
	// AuditWriter receives one JSON line per operation; nil discards.
	AuditWriter io.Writer
	// Now is the clock, for tests of deletion and rotation; default time.Now.
	Now func() time.Time
	// RatePerSecond and Burst configure a per-caller token bucket; 0 = off.
	RatePerSecond float64
	Burst         int
	// MaintenanceInterval is how often due deletions and rotations run;
	// default 1h, negative disables the background loop (they still run
	// at Open and on RunMaintenance).
	MaintenanceInterval time.Duration
	// CacheTTL bounds how long unsealed key material stays in memory;
	// default 5m.
	CacheTTL time.Duration
	// MaxGrantsPerKey bounds the grants on one key; default 50000 (AWS).
	MaxGrantsPerKey int
	// Quotas are the resource and shared request-rate quotas (quota.go).
	Quotas Quotas
	// Peers are the ssegates acting as the KMS of other regions, by
	// region name, for multi-Region keys (multiregion.go).
	Peers map[string]RemotePeer
}

// Core is the embedded KMS. It is safe for concurrent use.
type Core struct {
	opts    Options
	log     *slog.Logger
	wdb     *sql.DB // single connection: every write
	rdb     *sql.DB // read pool
	path    string
	mu      sync.RWMutex // guards master
	master  []byte
	cache   *keyCache
	usage   *usageTracker
	audit   *auditor
	limiter *limiter
	quota   *quotaLimiter  // shared per-class request rates, key count (quota.go)
	akCache accessKeyCache // access keys found by LookupAccessKey (users.go)
	xks     xksRegistry    // external key store connections (xks.go)

	stop     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Once
	createMu sync.Mutex // serialises create-on-first-use of managed keys
}

var _ Service = (*Core)(nil)

// Open opens or creates the keystore at path. A wrong master key yields
// ErrWrongMasterKey before anything is written.
func Open(ctx context.Context, path string, masterKey []byte, opts Options) (*Core, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("%w: master key must be %d bytes", ErrValidation, MasterKeySize)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaintenanceInterval == 0 {
		opts.MaintenanceInterval = time.Hour
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Minute
	}
	if opts.AuditWriter == nil {
		opts.AuditWriter = io.Discard
	}
	wdb, rdb, err := openDBs(path)
	if err != nil {
		return nil, err
	}
	c := &Core{
		opts: opts, log: opts.Logger, wdb: wdb, rdb: rdb, path: path,
		master:  append([]byte(nil), masterKey...),
		cache:   newKeyCache(opts.CacheTTL, opts.Now),
		usage:   newUsageTracker(),
		audit:   &auditor{w: opts.AuditWriter, now: opts.Now},
		limiter: newLimiter(opts.RatePerSecond, opts.Burst, opts.Now),
		quota:   newQuotaLimiter(opts.Quotas, opts.Now),
		stop:    make(chan struct{}),
	}
	if err := c.init(ctx); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	if err := c.RunMaintenance(ctx); err != nil {
		c.log.Warn("kms maintenance at start failed", "err", err)
	}
	if opts.MaintenanceInterval > 0 {
		c.wg.Add(1)
		go c.maintenanceLoop(opts.MaintenanceInterval)
	}
	return c, nil
}

// init checks the master key against an existing keystore (read only) or
// creates a new one; migrations run only after the check passed.
func (c *Core) init(ctx context.Context) error {
	sealed, err := readCheck(ctx, c.wdb)
	if err != nil {
		return err
	}
	if sealed != nil {
		if _, err := unseal(c.master, "", 0, purposeCheck, sealed); err != nil {
			return ErrWrongMasterKey
		}
		return migrate(ctx, c.wdb)
	}
	if err := migrate(ctx, c.wdb); err != nil {
		return err
	}
	check := make([]byte, 32)
	if _, err := rand.Read(check); err != nil {
		return err
	}
	sealed, err = seal(c.master, "", 0, purposeCheck, check)
	if err != nil {
		return err
	}
	_, err = c.wdb.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('check', ?)`, sealed)
	return err
}

// Close stops the background loop, stores the key usage seen since the
// last maintenance run and closes the database.
func (c *Core) Close() error {
	var err error
	c.closeMu.Do(func() {
		close(c.stop)
		c.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = c.flushUsage(ctx)
		cancel()
		err = errors.Join(err, c.rdb.Close(), c.wdb.Close())
		c.mu.Lock()
		clear(c.master)
		c.mu.Unlock()
		c.cache.clear()
	})
	return err
}

func (c *Core) maintenanceLoop(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := c.RunMaintenance(ctx); err != nil {
				c.log.Warn("kms maintenance failed", "err", err)
			}
			cancel()
		}
	}
}

// RunMaintenance stores the key usage seen in memory, deletes keys whose
// deletion date has passed (unless used since their deletion was
// scheduled, see ScheduleKeyDeletion), rotates keys whose rotation is
// due and retries rotations not yet pushed to multi-Region replicas.
// Open and the background loop call it.
func (c *Core) RunMaintenance(ctx context.Context) error {
	return errors.Join(c.deleteDueKeys(ctx), c.rotateDueKeys(ctx), c.expireImportedMaterial(ctx),
		c.pushPendingReplicas(ctx, ""))
}

// write runs fn in one write transaction and drops cached key state, so
// the data path never sees a state older than the last committed change.
//
// It holds c.mu for reading so that RotateMasterKey (which holds it for
// writing) never interleaves with a transaction sealing under the old key.
// Code inside fn reads c.master directly; it must not call masterKey.
func (c *Core) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.writeLocked(ctx, fn)
}

func (c *Core) writeLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := c.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin: %v", ErrInternal, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	c.cache.clear()
	if err != nil {
		return fmt.Errorf("%w: commit: %v", ErrInternal, err)
	}
	return nil
}

func (c *Core) now() time.Time { return c.opts.Now() }

func (c *Core) masterKey() []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.master
}

func (c *Core) arn(id string) string {
	return "arn:aws:kms:" + c.opts.Region + ":" + c.opts.AccountID + ":key/" + id
}

func (c *Core) aliasARN(name string) string {
	return "arn:aws:kms:" + c.opts.Region + ":" + c.opts.AccountID + ":" + name
}
