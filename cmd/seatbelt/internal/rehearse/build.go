package rehearse

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// makeBuilds returns the old and the new build as executables: a Binary as
// it is (checked to exist), a Ref checked out into a worktree under dir and
// built there with the build command.
func makeBuilds(ctx context.Context, cfg Config, dir string) ([2]Build, error) {
	out := [2]Build{cfg.Old, cfg.New}
	for i := range out {
		b := &out[i]
		if b.Binary != "" {
			abs, err := filepath.Abs(b.Binary)
			if err != nil {
				return out, err
			}
			if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return out, fmt.Errorf("rehearse: %s build %s: not an executable file", b.Name, b.Binary)
			}
			b.Binary = abs
			continue
		}
		bin := filepath.Join(dir, b.Name)
		if b.Dir != "" {
			cfg.Logger.Info("rehearse: building", "build", b.Name, "dir", b.Dir)
			if err := buildAt(ctx, b.Dir, cfg.BuildCmd, bin, b.Name, cfg); err != nil {
				return out, fmt.Errorf("rehearse: %s build (%s): %w", b.Name, b.Dir, err)
			}
		} else {
			cfg.Logger.Info("rehearse: building", "build", b.Name, "ref", b.Ref)
			if err := buildRef(ctx, cfg, dir, b.Name, b.Ref, bin); err != nil {
				return out, err
			}
		}
		b.Binary = bin
	}
	return out, nil
}

// buildRef checks ref out into a worktree of the repository and builds it
// there, stamped with the ref's short commit as CI stamps its builds.
func buildRef(ctx context.Context, cfg Config, dir, name, ref, bin string) error {
	repo := cfg.RepoDir
	if repo == "" {
		top, err := git(ctx, "", "rev-parse", "--show-toplevel")
		if err != nil {
			return fmt.Errorf("rehearse: %s build %s: not in a git repository (run from the service's repository or give --repo): %w", name, ref, err)
		}
		repo = top
	}
	commit, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return fmt.Errorf("rehearse: %s build: %q is not a commit in %s (try HEAD~1, a branch, a tag or a commit hash)", name, ref, repo)
	}
	tree := filepath.Join(dir, "src-"+name)
	if _, err := git(ctx, repo, "worktree", "add", "--detach", "--force", tree, commit); err != nil {
		return fmt.Errorf("rehearse: %s build: checking out %s: %w", name, ref, err)
	}
	defer func() {
		// A worktree left registered would make the next "worktree add"
		// of the same path refuse; prune forgets it if removal fails.
		if _, err := git(context.WithoutCancel(ctx), repo, "worktree", "remove", "--force", tree); err != nil {
			_, _ = git(context.WithoutCancel(ctx), repo, "worktree", "prune")
		}
	}()
	short := commit[:min(12, len(commit))]
	if err := buildAt(ctx, tree, cfg.BuildCmd, bin, short, cfg); err != nil {
		return fmt.Errorf("rehearse: %s build (%s at %s): %w", name, ref, short, err)
	}
	return nil
}

// buildAt runs the build command in dir with {out} and {version} filled in
// and checks that it wrote the executable.
func buildAt(ctx context.Context, dir, command, out, version string, cfg Config) error {
	line := strings.NewReplacer("{out}", shellQuote(out), "{version}", shellQuote(version)).Replace(command)
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	// Cancelled, the whole build stops, not only sh: its compilers would
	// hold the output pipe open until they finished.
	killGroupOnCancel(cmd)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", line, err, lastLines(buf.Bytes(), 20))
	}
	if _, err := cfg.ServiceOutput.Write(buf.Bytes()); err != nil {
		return err
	}
	if st, err := os.Stat(out); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s exited 0 but wrote no executable %s: the build command must write the program to {out}", line, out)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func runCmd(ctx context.Context, bin string, args, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// lastLines keeps the end of a command's output for an error message.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
