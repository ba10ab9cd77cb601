// krew-template renders a krew-release-bot template (.krew.yaml) into a krew plugin manifest, the way the bot
// does when a release is published, but with the archives' digests taken from local files instead of downloads.
//
//	krew-template -tag v0.2.0 [-template .krew.yaml] [-assets DIR | -checksums FILE] [-o FILE]
//
// The template is Go text/template, executed with the values the bot's `template` command gives (only .TagName),
// and the bot's two functions:
//
//	addURIAndSha URL TAG  URL is itself a template (its {{ .TagName }} becomes TAG); the result is two lines,
//	                      "uri: URL" and "sha256: HEX" indented by four spaces, for a platform entry at that depth
//	indent N TEXT         re-indents addURIAndSha's result for another depth: every line after the first gets N
//	                      spaces (the four-space default is replaced), the first none
//
// The digest of an archive comes from DIR/<last part of its URL> (-assets), from a sha256sum-style file that
// names it (-checksums), or, with neither, from downloading the URL, as the bot does.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// values are what the bot's `template` command executes a template with.
type values struct {
	TagName string
}

// digester gives the sha256 of the archive a URL names.
type digester func(url string) (string, error)

func fromDir(dir string) digester {
	return func(url string) (string, error) {
		file := filepath.Join(dir, path.Base(url))
		handle, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("no local archive for %s: %w", url, err)
		}
		defer handle.Close()
		return hashOf(handle)
	}
}

var checksumLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](\S+)$`)

func fromChecksums(file string) (digester, error) {
	handle, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer handle.Close()
	sums := map[string]string{}
	lines := bufio.NewScanner(handle)
	for number := 1; lines.Scan(); number++ {
		found := checksumLine.FindStringSubmatch(strings.TrimRight(lines.Text(), "\r"))
		if found == nil {
			return nil, fmt.Errorf("%s:%d: expected '<sha256>  <file name>'", file, number)
		}
		sums[path.Base(found[2])] = found[1]
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	return func(url string) (string, error) {
		if sum, ok := sums[path.Base(url)]; ok {
			return sum, nil
		}
		return "", fmt.Errorf("%s names no sha256 for %s", file, path.Base(url))
	}, nil
}

func download(url string) (string, error) {
	response, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: %s", url, response.Status)
	}
	return hashOf(response.Body)
}

func hashOf(reader io.Reader) (string, error) {
	digest := sha256.New()
	if _, err := io.Copy(digest, reader); err != nil {
		return "", err
	}
	return hex.EncodeToString(digest.Sum(nil)), nil
}

// indent re-indents a uri/sha256 pair for a platform entry n spaces deep.
func indent(n int, text string) string {
	text = strings.ReplaceAll(text, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", n)
	return strings.TrimSpace(pad + strings.ReplaceAll(text, "\n", "\n"+pad))
}

func render(source []byte, name, tag string, sha digester) ([]byte, error) {
	addURIAndSha := func(urlTemplate, tag string) (string, error) {
		parsed, err := template.New("url").Parse(urlTemplate)
		if err != nil {
			return "", err
		}
		var url bytes.Buffer
		if err := parsed.Execute(&url, values{TagName: tag}); err != nil {
			return "", err
		}
		sum, err := sha(url.String())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("uri: %s\n    sha256: %s", url.String(), sum), nil
	}
	parsed, err := template.New(name).Funcs(template.FuncMap{"indent": indent, "addURIAndSha": addURIAndSha}).
		Parse(string(source))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := parsed.Execute(&out, values{TagName: tag}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func main() {
	templateFile := flag.String("template", ".krew.yaml", "the krew-release-bot template")
	tag := flag.String("tag", "", "the release tag, like v0.2.0 (required)")
	assets := flag.String("assets", "", "folder holding the release archives named by the template's URLs")
	checksums := flag.String("checksums", "", "sha256sum-style file naming the archives' digests")
	output := flag.String("o", "-", "where the manifest goes (- for stdout)")
	flag.Parse()
	if err := run(*templateFile, *tag, *assets, *checksums, *output); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(templateFile, tag, assets, checksums, output string) error {
	if tag == "" || flag.NArg() > 0 {
		return fmt.Errorf("usage: krew-template -tag vX.Y.Z [-template FILE] [-assets DIR | -checksums FILE] [-o FILE]")
	}
	if assets != "" && checksums != "" {
		return fmt.Errorf("-assets and -checksums are alternatives; give one")
	}
	sha := digester(download)
	if assets != "" {
		sha = fromDir(assets)
	} else if checksums != "" {
		var err error
		if sha, err = fromChecksums(checksums); err != nil {
			return err
		}
	}
	source, err := os.ReadFile(templateFile)
	if err != nil {
		return err
	}
	manifest, err := render(source, filepath.Base(templateFile), tag, sha)
	if err != nil {
		return err
	}
	if output == "-" {
		_, err = os.Stdout.Write(manifest)
		return err
	}
	// written whole or not at all, so a failed render never leaves half a manifest behind
	temporary := output + ".tmp"
	if err := os.WriteFile(temporary, manifest, 0o644); err != nil {
		return err
	}
	return os.Rename(temporary, output)
}
