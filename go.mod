module github.com/drvhazard/drvhazard

go 1.26.8

require (
	github.com/saferwall/pe v1.6.5
	golang.org/x/arch v0.32.0
)

require (
	github.com/ayoubfaouzi/pkcs7 v0.2.3 // indirect
	github.com/edsrzf/mmap-go v1.1.0 // indirect
	golang.org/x/crypto v0.33.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
	golang.org/x/text v0.22.0 // indirect
)
