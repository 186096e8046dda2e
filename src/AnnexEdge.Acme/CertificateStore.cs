using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Acme.Jose;

namespace AnnexEdge.Acme;

/// <summary>
/// The files under <c>StorePath</c>: <c>account.key</c> (the ACME account key), <c>certificate.pem</c> (the chain
/// followed by its private key, so that one atomic rename replaces both together), and <c>challenges/TOKEN</c> (pending
/// http-01 answers, so any process sharing the store answers the CA). The directories are mode 0700 and the files 0600;
/// a file is written under a fresh unpredictable name that must not exist yet (O_EXCL, so no planted file or link is
/// followed), then renamed over its place, and a symbolic link found at a file's place is not read but replaced.
/// </summary>
public sealed class CertificateStore
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public CertificateStore(string storePath)
    {
        Path = System.IO.Path.GetFullPath(storePath);
    }

    public string Path { get; }

    public string AccountKeyPath => System.IO.Path.Combine(Path, "account.key");

    public string CertificatePath => System.IO.Path.Combine(Path, "certificate.pem");

    public string ChallengesPath => System.IO.Path.Combine(Path, "challenges");

    /// <summary>
    /// Creates the directory with mode 0700, or sets an existing one to 0700 (an older edge left it at the default
    /// mode). Returns the mode it had when that was wider, else null.
    /// </summary>
    /// <exception cref="InvalidOperationException">The directory belongs to another user (its mode cannot be set).</exception>
    public static UnixFileMode? EnsurePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return null;
        }

        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }

        // Its owner could read or replace the keys whatever the mode: another user's directory is refused, not fixed.
        if (UnixOwner.Of(path) is { } owner && owner != UnixOwner.Effective)
        {
            throw NotOwned(path, $"it belongs to user id {owner}, the edge runs as user id {UnixOwner.Effective}", null);
        }

        var mode = File.GetUnixFileMode(path);
        try
        {
            // Also when it is 0700 already: where the owner cannot be told, chmod is still refused to anyone but the owner.
            File.SetUnixFileMode(path, OwnerOnlyDirectory);
        }
        catch (UnauthorizedAccessException e)
        {
            throw NotOwned(path, e.Message, e);
        }

        return mode == OwnerOnlyDirectory ? null : mode;
    }

    private static InvalidOperationException NotOwned(string path, string why, Exception? inner) => new(
        $"The ACME store directory {path} is not the edge's own ({why}); its owner could read or replace the keys in it: "
        + "give it to the user the edge runs as (chown), or set AnnexEdge:Acme:StorePath to a directory of that user's own",
        inner);

    /// <summary>The account key, created on first use (call under the store lock).</summary>
    public AccountKey LoadOrCreateAccountKey()
    {
        if (ReadRegularFile(AccountKeyPath) is { } pem)
        {
            return AccountKey.FromPem(pem);
        }

        var key = AccountKey.Create();
        WriteSecret(AccountKeyPath, key.ExportPem());
        return key;
    }

    /// <summary>The stored certificate, or null when there is none (or it cannot be read).</summary>
    public StoredCertificate? LoadCertificate()
    {
        if (ReadRegularFile(CertificatePath) is not { } pem)
        {
            return null;
        }

        var keyStart = pem.IndexOf("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal);
        if (keyStart < 0)
        {
            return null;
        }

        try
        {
            var (leaf, chain) = Certificates.LoadChain(pem[..keyStart], pem[keyStart..]);
            return new StoredCertificate(leaf, chain);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    public void SaveCertificate(string chainPem, ECDsa key)
    {
        WriteSecret(CertificatePath, chainPem.TrimEnd() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Publishes an http-01 answer to every process sharing the store.</summary>
    public void SaveHttp01(string token, string keyAuthorization) => WriteSecret(Http01Path(token), keyAuthorization);

    /// <summary>The http-01 answer some process sharing the store published, or null.</summary>
    public string? LoadHttp01(string token)
    {
        try
        {
            return File.ReadAllText(Http01Path(token));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public void DeleteHttp01(string token) => File.Delete(Http01Path(token));

    /// <summary>The token is a file name: callers check <see cref="ChallengeResponder.IsToken"/> first.</summary>
    private string Http01Path(string token) => System.IO.Path.Combine(ChallengesPath, token);

    /// <summary>The file's text; null when it is missing or a symbolic link (which is then replaced, never followed).</summary>
    private static string? ReadRegularFile(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is null ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes a new file with mode 0600 from its creation under an unpredictable name in the 0700 directory, then
    /// renames it over the target (rename replaces a link at the target; it never writes through it).
    /// </summary>
    private static void WriteSecret(string path, string content)
    {
        EnsurePrivateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var temporary = path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + ".tmp";
        // CreateNew is O_CREAT|O_EXCL: it fails on any existing file or link instead of opening it.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        try
        {
            using (var file = new FileStream(temporary, options))
            using (var writer = new StreamWriter(file))
            {
                writer.Write(content);
                writer.Flush();
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}

/// <summary>A certificate with its private key and the intermediates to send with it.</summary>
public sealed class StoredCertificate(X509Certificate2 leaf, X509Certificate2Collection chain)
{
    public X509Certificate2 Leaf { get; } = leaf;

    public X509Certificate2Collection Chain { get; } = chain;

    public bool Covers(IEnumerable<string> domains)
    {
        var names = Certificates.DnsNames(Leaf);
        return domains.All(d => names.Contains(d, StringComparer.OrdinalIgnoreCase));
    }
}
