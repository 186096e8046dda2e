using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Acme.Jose;

namespace AnnexEdge.Acme;

/// <summary>
/// The files under <c>StorePath</c>: <c>account.key</c> (the ACME account key), <c>certificate.pem</c> (the chain
/// followed by its private key, so that one atomic rename replaces both together), and <c>challenges/TOKEN</c> (pending
/// http-01 answers, so any process sharing the store answers the CA). Files are mode 0600.
/// </summary>
public sealed class CertificateStore
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public CertificateStore(string storePath)
    {
        Path = System.IO.Path.GetFullPath(storePath);
    }

    public string Path { get; }

    public string AccountKeyPath => System.IO.Path.Combine(Path, "account.key");

    public string CertificatePath => System.IO.Path.Combine(Path, "certificate.pem");

    public string ChallengesPath => System.IO.Path.Combine(Path, "challenges");

    /// <summary>The account key, created on first use (call under the store lock).</summary>
    public AccountKey LoadOrCreateAccountKey()
    {
        if (File.Exists(AccountKeyPath))
        {
            return AccountKey.FromPem(File.ReadAllText(AccountKeyPath));
        }

        var key = AccountKey.Create();
        WriteSecret(AccountKeyPath, key.ExportPem());
        return key;
    }

    /// <summary>The stored certificate, or null when there is none (or it cannot be read).</summary>
    public StoredCertificate? LoadCertificate()
    {
        string pem;
        try
        {
            pem = File.ReadAllText(CertificatePath);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
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

    /// <summary>Writes a temporary file with mode 0600 from its creation, then renames it over the target.</summary>
    private static void WriteSecret(string path, string content)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var temporary = path + "." + Environment.ProcessId + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        using (var file = new FileStream(temporary, options))
        using (var writer = new StreamWriter(file))
        {
            writer.Write(content);
            writer.Flush();
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
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
