//go:build tools

// Package deps pins the project's dependencies in go.mod and go.sum while
// packages that use them are written; `go mod tidy` keeps what is listed.
package deps

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/andygrunwald/go-jira"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/expr-lang/expr"
	_ "github.com/expr-lang/expr/vm"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/getkin/kin-openapi/routers"
	_ "github.com/getkin/kin-openapi/routers/legacy"
	_ "github.com/google/go-github/v62/github"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/microcosm-cc/bluemonday"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/rs/zerolog"
	_ "github.com/yuin/goldmark"
	_ "github.com/yuin/goldmark/ast"
	_ "github.com/yuin/goldmark/extension"
	_ "github.com/yuin/goldmark/text"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/net/websocket"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
