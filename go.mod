module github.com/sessionid/session

go 1.26.8

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
)
