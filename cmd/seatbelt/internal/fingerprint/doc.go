// Package fingerprint computes, for each main package, a SHA-256 over exactly
// what goes into its binary, so CI can skip the build and the deploy when
// nothing that matters changed. It backs "seatbelt fingerprint".
//
// # What is hashed
//
// The go command is the source of truth; nothing re-derives the build
// graph. [Compute] runs "go env -json" and "go list -deps -json" with the
// caller's build flags and environment, and hashes a text manifest
// ([Fingerprint.Manifest]) made of:
//
//   - the toolchain and the settings that change a binary: GOVERSION, GOOS,
//     GOARCH and the GOAMD64-style variants, GOEXPERIMENT, GOFIPS140, GOFLAGS
//     (where -tags and -trimpath usually live), CGO_ENABLED, CC, CXX and the
//     CGO_* flags, plus [Options].BuildFlags;
//   - the main package's import path and its DefaultGODEBUG (go.mod godebug
//     lines and the go directive set it);
//   - every package linked in, sorted: standard library packages by import
//     path only (GOVERSION pins them); packages of modules that go.sum pins
//     (a version and a Sum) by module path, version, Sum and GoModSum, with
//     their file names; all others (the main module, folder replacements)
//     by the SHA-256 of every GoFiles, CgoFiles, CFiles, CXXFiles, MFiles,
//     HFiles, FFiles, SFiles, SwigFiles, SwigCXXFiles, SysoFiles and
//     EmbedFiles entry, named by module path plus the path relative to the
//     module root, and the cgo flags from #cgo lines.
//
// Absolute paths never enter the manifest, so two checkouts in different
// folders get the same digest. Files outside the dependency graph (another
// service, a README, a file for another GOOS, an unembedded asset) do not
// enter it either. Any byte changed in a file that is compiled or embedded,
// a module version, or a build setting changes the digest.
//
// What is deliberately not hashed: the output of pkg-config and the C
// toolchain's own version (only CC's name is), and -ldflags -X values
// set outside BuildFlags. A build that depends on those should pass them as
// BuildFlags or Env.
//
// # Comparing
//
// [Result.WriteText] prints "sha256:HEX  PACKAGE" lines; JSON carries the
// settings too. [Read] reads either back and [Compare] reports each package
// as [Changed], [Unchanged], [Added] or [Removed].
//
// # Speed
//
// go list with named fields and a warm cache takes most of the time;
// external modules are pinned by their go.sum hash instead of being read,
// and the main module's files are hashed on all CPUs. See BENCHMARKS.md.
package fingerprint
