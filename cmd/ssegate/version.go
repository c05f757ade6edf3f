package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at release time: go build -ldflags "-X main.version=v1.2.3".
// Everything else comes from the build info the Go toolchain embeds.
var version = "dev"

func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssegate %s\n", version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(&b, "go:       %s\n", runtime.Version())
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	commit := settings["vcs.revision"]
	if commit == "" {
		commit = "unknown"
	}
	if settings["vcs.modified"] == "true" {
		commit += " (modified)"
	}
	fmt.Fprintf(&b, "commit:   %s\n", commit)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(&b, "built:    %s\n", t)
	}
	fmt.Fprintf(&b, "go:       %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "module:   %s %s\n", bi.Main.Path, bi.Main.Version)
	for _, k := range []string{"CGO_ENABLED", "-trimpath", "-tags"} {
		if v, ok := settings[k]; ok {
			fmt.Fprintf(&b, "%-9s %s\n", k+":", v)
		}
	}
	return b.String()
}
