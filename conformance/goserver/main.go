// The conformance harness's Go server: a directory served by the standard
// library's http.ServeContent, which evaluates every conditional and range
// field itself.  http.FileServer sends no ETag, so the tag preconditions
// would never be exercised; this handler sets a strong one (SHA-256 of the
// bytes, hex) first, which ServeContent then compares against.
//
//	goserver 127.0.0.1:PORT /docroot
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: goserver ADDRESS DOCROOT")
	}
	address, docroot := os.Args[1], os.Args[2]
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Clean of a rooted path cannot climb above the docroot
		name := filepath.Join(docroot, filepath.Clean("/"+r.URL.Path))
		f, err := os.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		digest := sha256.New()
		if _, err := io.Copy(digest, f); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("ETag", `"`+hex.EncodeToString(digest.Sum(nil))+`"`)
		http.ServeContent(w, r, info.Name(), info.ModTime(), f)
	})
	log.Fatal(http.ListenAndServe(address, nil))
}
