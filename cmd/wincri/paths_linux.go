package main

const defaultConfigPath = "/etc/wincri/config.toml"
