using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme;

/// <summary>
/// The certificate HTTPS serves, swapped atomically when a new one arrives: handshakes after the swap get the new
/// certificate, connections already open keep theirs (nothing is dropped). Before the first ACME certificate exists
/// a self-signed one serves, so that TLS (and tls-alpn-01) works from the start.
/// </summary>
public sealed class ServingCertificates
{
    private readonly Lazy<Served> _fallback;
    private volatile Served? _current;

    public ServingCertificates(IReadOnlyList<string> domains, TimeProvider time)
    {
        Domains = domains;
        _fallback = new Lazy<Served>(() =>
        {
            var certificate = Certificates.CreateSelfSigned(domains, time.GetUtcNow());
            return new Served(certificate, SslStreamCertificateContext.Create(certificate, null, offline: true));
        });
    }

    /// <summary>Raised after a swap, with the new leaf.</summary>
    public event Action<X509Certificate2>? Swapped;

    /// <summary>The names every certificate served here covers.</summary>
    public IReadOnlyList<string> Domains { get; }

    public X509Certificate2? Current => _current?.Leaf;

    public bool IsFallback => _current is null;

    public void Set(StoredCertificate certificate)
    {
        if (_current?.Leaf.Thumbprint == certificate.Leaf.Thumbprint)
        {
            return;
        }

        // Old certificates are not disposed: handshakes in flight may hold them.
        _current = new Served(certificate.Leaf, SslStreamCertificateContext.Create(certificate.Leaf, certificate.Chain, offline: true));
        Swapped?.Invoke(certificate.Leaf);
    }

    /// <summary>The certificate for a handshake; the ACME one covers every configured name, so SNI only matters for challenges.</summary>
    public X509Certificate2 Select() => (_current ?? _fallback.Value).Leaf;

    /// <summary>The same with its intermediates, for handshakes that can take a context.</summary>
    public SslStreamCertificateContext SelectContext() => (_current ?? _fallback.Value).Context;

    private sealed record Served(X509Certificate2 Leaf, SslStreamCertificateContext Context);
}
