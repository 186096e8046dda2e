using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Acme.Tests;

public sealed class StoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("acme-store-").FullName;

    [Fact]
    public void Store_lock_is_exclusive_until_released()
    {
        using (var first = StoreLock.TryAcquire(_dir))
        {
            Assert.NotNull(first);
            Assert.Null(StoreLock.TryAcquire(_dir));
        }

        using var again = StoreLock.TryAcquire(_dir);
        Assert.NotNull(again);
    }

    [Fact]
    public async Task Waiting_for_the_store_lock_reports_once_and_gets_it_when_the_holder_lets_go()
    {
        var time = new FakeTimeProvider();
        var first = StoreLock.TryAcquire(_dir)!;
        var waits = 0;
        var waiting = StoreLock.AcquireAsync(_dir, time, () => waits++, TestContext.Current.CancellationToken);

        time.Advance(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted);
        first.Dispose();
        time.Advance(TimeSpan.FromSeconds(1));
        using var second = await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(1, waits);
    }

    [Fact]
    public void Account_key_is_created_once_with_mode_0600_and_reused()
    {
        var store = new CertificateStore(_dir);
        using var created = store.LoadOrCreateAccountKey();
        using var loaded = store.LoadOrCreateAccountKey();

        Assert.Equal(created.Thumbprint, loaded.Thumbprint);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.AccountKeyPath));
    }

    [Fact]
    public void Saved_certificate_loads_back_with_its_key_and_intermediates_and_is_private()
    {
        var store = new CertificateStore(_dir);
        var (chainPem, key) = TestCertificates.Chain(["edge.example.org"], DateTimeOffset.UtcNow, TimeSpan.FromDays(90));
        store.SaveCertificate(chainPem, key);

        var loaded = store.LoadCertificate();

        Assert.NotNull(loaded);
        Assert.True(loaded.Leaf.HasPrivateKey);
        Assert.Single(loaded.Chain);
        Assert.True(loaded.Covers(["EDGE.example.org"]));
        Assert.False(loaded.Covers(["edge.example.org", "other.example.org"]));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.CertificatePath));
    }

    [Fact]
    public void Missing_or_damaged_certificate_file_reads_as_none()
    {
        var store = new CertificateStore(_dir);
        Assert.Null(store.LoadCertificate());

        File.WriteAllText(store.CertificatePath, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        Assert.Null(store.LoadCertificate());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>A small CA: a root signing a P-256 leaf, as PEM chain (leaf, root) plus the leaf key.</summary>
internal static class TestCertificates
{
    public static (string ChainPem, ECDsa Key) Chain(IReadOnlyList<string> domains, DateTimeOffset notBefore, TimeSpan lifetime)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Test Root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        using var root = rootRequest.CreateSelfSigned(notBefore.AddDays(-1), notBefore.AddYears(5));

        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + domains[0], key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var domain in domains)
        {
            san.AddDnsName(domain);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        using var leaf = request.Create(root, notBefore, notBefore + lifetime, [0x01, 0x02, 0x03]);
        return (leaf.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n", key);
    }
}
