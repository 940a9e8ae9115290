//! `tessera hash-secret`: the hashed form of a password or bearer token for the node
//! config's `[auth]` section (secrets are never stored in plain text).

use std::io::BufRead;

use clap::Args;

use tessera_api::auth::secret;

#[derive(Debug, Args)]
pub struct HashSecretArgs {
    /// The secret is a bearer token (stored as SHA-256) rather than a password.
    #[arg(long)]
    pub token: bool,
    /// Make a new random token instead of reading one; prints it and its hash.
    #[arg(long, requires = "token")]
    pub generate: bool,
    /// PBKDF2 rounds for a password hash.
    #[arg(long, default_value_t = secret::PBKDF2_ITERATIONS)]
    pub iterations: u32,
}

/// Read the secret from the first line of stdin and print its stored form.
pub fn run(args: HashSecretArgs) -> anyhow::Result<()> {
    if args.generate {
        let token = secret::generate_token()?;
        println!("token = \"{token}\"");
        println!("token_hash = \"{}\"", secret::hash_token(&token));
        return Ok(());
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let secret_text = line.trim_end_matches(['\n', '\r']);
    anyhow::ensure!(
        !secret_text.is_empty(),
        "give the secret on stdin, e.g. `read -rs P && echo \"$P\" | tessera hash-secret`"
    );
    if args.token {
        println!("{}", secret::hash_token(secret_text));
    } else {
        println!("{}", secret::hash_password(secret_text, args.iterations)?);
    }
    Ok(())
}

/// `tessera routes`: every HTTP route with the role it needs.
pub fn print_routes() {
    use tessera_api::auth::http::{is_public, required_role};
    for (method, path) in crate::standalone::http::routes().list {
        let role = if is_public(path) {
            "public".to_string()
        } else {
            format!("{:?}", required_role(&method, path)).to_lowercase()
        };
        println!("{method} {path} {role}");
    }
}
