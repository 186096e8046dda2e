using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Acme.Jose;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Acme.Tests;

public sealed class StoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("acme-store-").FullName;

    /// <summary>Files of someone else, which the store must never write.</summary>
    private readonly string _outside = Directory.CreateTempSubdirectory("acme-outside-").FullName;

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

    [Fact]
    public void Store_directories_are_created_with_mode_0700()
    {
        var store = new CertificateStore(Path.Combine(_dir, "store"));
        var (chainPem, key) = TestCertificates.Chain(["edge.example.org"], DateTimeOffset.UtcNow, TimeSpan.FromDays(90));
        store.SaveCertificate(chainPem, key);
        store.SaveHttp01("token", "token.thumbprint");

        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(store.Path));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(store.ChallengesPath));
    }

    [Fact]
    public void An_existing_store_directory_open_to_others_is_made_0700_before_a_key_is_written_or_the_lock_taken()
    {
        var wide = Path.Combine(_dir, "wide");
        var widerMode = OwnerOnlyDirectory | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        Directory.CreateDirectory(wide, widerMode);
        using (StoreLock.TryAcquire(wide))
        {
            Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(wide));
        }

        File.SetUnixFileMode(wide, widerMode);
        using var accountKey = new CertificateStore(wide).LoadOrCreateAccountKey();
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(wide));

        File.SetUnixFileMode(wide, widerMode);
        Assert.Equal(widerMode, CertificateStore.EnsurePrivateDirectory(wide));
        Assert.Null(CertificateStore.EnsurePrivateDirectory(wide));
    }

    [Fact]
    public void A_store_directory_of_another_user_is_refused_with_a_message_naming_it()
    {
        var foreign = Path.Combine(_dir, "foreign");
        Directory.CreateDirectory(foreign, OwnerOnlyDirectory);
        using (var chown = System.Diagnostics.Process.Start("chown", ["65534", foreign]))
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        var refused = Assert.Throws<InvalidOperationException>(() => StoreLock.TryAcquire(foreign));
        Assert.Contains(foreign, refused.Message);
        Assert.Contains("AnnexEdge:Acme:StorePath", refused.Message);
        Assert.Throws<InvalidOperationException>(() => new CertificateStore(foreign).LoadOrCreateAccountKey());
        Assert.False(File.Exists(Path.Combine(foreign, ".lock")));
    }

    [Fact]
    public void A_link_planted_at_the_temporary_name_of_a_secret_is_neither_followed_nor_truncated()
    {
        var store = new CertificateStore(_dir);
        var target = Path.Combine(_outside, "attacker.txt");
        File.WriteAllText(target, "attacker's file\n");
        // The name the store used to write through: the target name, the process id, .tmp.
        File.CreateSymbolicLink(store.AccountKeyPath + "." + Environment.ProcessId + ".tmp", target);

        using var key = store.LoadOrCreateAccountKey();

        Assert.Equal("attacker's file\n", File.ReadAllText(target));
        Assert.Null(new FileInfo(store.AccountKeyPath).LinkTarget);
        Assert.Contains("PRIVATE KEY", File.ReadAllText(store.AccountKeyPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.AccountKeyPath));
    }

    [Fact]
    public void A_file_planted_at_the_temporary_name_of_a_secret_never_receives_the_secret()
    {
        var store = new CertificateStore(_dir);
        var planted = store.CertificatePath + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(planted, "");
        File.SetUnixFileMode(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        // The planter keeps the file open, to read whatever is written into it later.
        using var watcher = new FileStream(planted, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var (chainPem, key) = TestCertificates.Chain(["edge.example.org"], DateTimeOffset.UtcNow, TimeSpan.FromDays(90));

        store.SaveCertificate(chainPem, key);

        Assert.Equal(0, new StreamReader(watcher).ReadToEnd().Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.CertificatePath));
        Assert.NotNull(store.LoadCertificate());
    }

    [Fact]
    public void A_link_planted_at_a_secret_is_not_read_and_is_replaced_without_touching_its_target()
    {
        var store = new CertificateStore(_dir);
        using var planted = AccountKey.Create();
        var target = Path.Combine(_outside, "planted.key");
        File.WriteAllText(target, planted.ExportPem());
        File.CreateSymbolicLink(store.AccountKeyPath, target);

        using var key = store.LoadOrCreateAccountKey();

        Assert.NotEqual(planted.Thumbprint, key.Thumbprint);
        Assert.Equal(planted.ExportPem(), File.ReadAllText(target));
        Assert.Null(new FileInfo(store.AccountKeyPath).LinkTarget);
    }

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }
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
