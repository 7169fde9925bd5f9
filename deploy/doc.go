// Package deploy holds the configuration files of the production shape (docker-compose.yml at the
// repository root uses deploy/temporal/*) and the test that checks the compose file against the
// code: the environment variables the programs read, the search attributes, ports and the image.
package deploy
