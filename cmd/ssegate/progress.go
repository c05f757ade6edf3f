package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/ssegate/ssegate/gateway"
	"github.com/ssegate/ssegate/store"
)

// progress is the one progress display of the long operator jobs (rewrap,
// verify, kms backup, kms restore): a bar redrawn in place on a terminal,
// plain lines otherwise, so logs and pipes get something greppable.
// Object failures are always printed in full.
type progress struct {
	w     io.Writer
	tty   bool
	total int64  // for the bar; 0 when unknown
	verb  string // prefixes plain lines: "rewrap", "kms backup", ...
	bytes bool   // counts bytes rather than objects
	last  string // bucket/key of the last object seen, for resuming
	drawn bool
	// nextPlain is the count at which a plain (non-terminal) byte
	// progress prints its next line.
	nextPlain int64
}

// plainEvery is how often a non-terminal object run prints a position line.
const plainEvery = 1000

// newProgress is the progress of a scan over the objects in sc.
func newProgress(ctx context.Context, w io.Writer, st store.Store, sc gateway.Scope, verb string) *progress {
	p := &progress{w: w, verb: verb, tty: isTerminal(w)}
	if p.tty {
		// The bar needs a total: one extra listing pass, no metadata.
		p.total, _ = gateway.CountObjects(ctx, st, sc)
	}
	return p
}

// newByteProgress is the progress of moving total bytes (0: unknown).
func newByteProgress(w io.Writer, verb string, total int64) *progress {
	return &progress{w: w, verb: verb, tty: isTerminal(w), total: total, bytes: true}
}

// report is the gateway.Rewrap/Verify callback.
func (p *progress) report(o gateway.ObjectProgress) {
	p.last = o.Bucket + "/" + o.Key
	failed := o.Err != nil || o.Outcome == gateway.OutcomeFailed || o.Outcome == gateway.OutcomeDamaged
	if failed {
		p.clearBar()
		fmt.Fprintf(p.w, "%s %s: %v\n", strings.ToUpper(o.Outcome), p.last, o.Err)
	}
	if p.tty {
		p.drawBar(o.Done)
		return
	}
	switch {
	case o.Outcome == gateway.OutcomeRewrapped || o.Outcome == gateway.OutcomeWouldRewrap:
		fmt.Fprintf(p.w, "%s %s\n", o.Outcome, p.last)
	case o.Done%plainEvery == 0:
		fmt.Fprintf(p.w, "%s: %d objects, at %s\n", p.verb, o.Done, p.last)
	}
}

// update records that done units are complete. Plain byte progress prints
// at every quarter of the total (or only at the end when it is unknown),
// so a log gets a handful of lines, not one per write.
func (p *progress) update(done int64) {
	if p.tty {
		p.drawBar(done)
		return
	}
	if p.total <= 0 || done < p.nextPlain {
		return
	}
	fmt.Fprintf(p.w, "%s: %s of %s (%d%%)\n", p.verb, p.amount(done), p.amount(p.total), min(100, done*100/p.total))
	// The last line is always the one at the total.
	p.nextPlain = min(done+max(1, p.total/4), max(p.total, done+1))
}

// step announces a phase of the job on a line of its own.
func (p *progress) step(format string, a ...any) {
	p.clearBar()
	fmt.Fprintf(p.w, "%s: %s\n", p.verb, fmt.Sprintf(format, a...))
}

func (p *progress) amount(n int64) string {
	if !p.bytes {
		return fmt.Sprint(n)
	}
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (p *progress) drawBar(done int64) {
	const width = 30
	fill := width
	if p.total > 0 && done < p.total {
		fill = int(done * width / p.total)
	}
	total := "?"
	if p.total > 0 {
		total = p.amount(p.total)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %s/%s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.amount(done), total)
	p.drawn = true
}

func (p *progress) clearBar() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// finish ends the bar's line so the summary starts on a fresh one.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) resumeHint(w io.Writer) {
	if p.last != "" {
		fmt.Fprintf(w, "interrupted: rerun with --start-after %q to resume\n", p.last)
	}
}

// progressReader counts the bytes read through it into p.
// atEOF, if set, runs once when the source is exhausted: the next phase
// of the job starts there.
type progressReader struct {
	r     io.Reader
	p     *progress
	done  int64
	atEOF func()
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.done += int64(n)
	r.p.update(r.done)
	if err == io.EOF && r.atEOF != nil {
		r.atEOF()
		r.atEOF = nil
	}
	return n, err
}

// progressWriter counts the bytes written through it into p.
type progressWriter struct {
	w    io.Writer
	p    *progress
	done int64
}

func (w *progressWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.done += int64(n)
	w.p.update(w.done)
	return n, err
}

// isTerminal reports whether w is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
