package main

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	_ "github.com/google/uuid"
	_ "github.com/gorilla/mux"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/minio/sio"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite"
	_ "golang.org/x/term"
)

func main() {}
