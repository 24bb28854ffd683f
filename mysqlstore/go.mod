module github.com/sessionid/session/mysqlstore

go 1.25.0

require (
	github.com/go-sql-driver/mysql v1.10.2
	github.com/sessionid/session v0.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/sessionid/session => ../
