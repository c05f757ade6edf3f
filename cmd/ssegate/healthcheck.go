package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks the gateway at --listen for any HTTP answer. An S3
// request without credentials is refused with 403, which still proves the
// listener, router and error path work; only no answer (or a 5xx) is
// unhealthy. It reads the same --listen/SSEGATE_LISTEN and --tls-cert as
// serve, so a container's HEALTHCHECK needs no arguments.
func healthcheck(args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr(getenv, "listen", "127.0.0.1:9900"), "address the gateway listens on")
	useTLS := fs.Bool("tls", envOr(getenv, "tls-cert", "") != "", "use HTTPS (default: when SSEGATE_TLS_CERT is set)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("%w: --listen %q: want HOST:PORT", ErrConfig, *listen)
	}
	// A wildcard listen address is reached via loopback.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if *useTLS {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{
		// Only liveness is checked, on loopback, and the certificate names
		// the public host, not 127.0.0.1; nothing secret is sent.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("unhealthy: %s", resp.Status)
	}
	return nil
}

func envOr(getenv func(string) string, flagName, def string) string {
	if v := getenv(envName(flagName)); v != "" {
		return v
	}
	return def
}
