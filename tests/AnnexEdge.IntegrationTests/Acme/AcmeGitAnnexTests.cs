using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>A real git-annex client over <c>annex+https://</c>, verifying the certificate the edge got from Pebble.</summary>
public sealed class AcmeGitAnnexTests
{
    /// <summary>
    /// Pebble validates <c>localhost</c> for real (http-01 to 127.0.0.1), and git-annex resolves it through
    /// /etc/hosts, so no name needs faking on either side.
    /// </summary>
    private const string Domain = "localhost";

    [Fact]
    [Trait("Category", "Slow")] // 11 s alone, up to 20 s beside other tests: five git-annex runs and four processes.
    public async Task Git_annex_client_copies_and_gets_over_annex_https_only_when_it_trusts_the_Pebble_root()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        await using var node = await P2pNode.StartAsync("acme-e2e");
        using var store = new TempDirectory("acme-store");
        var acme = AcmeEdge.AcmeSection(pebble, store.Path, "http-01");
        acme["Domains"] = new JsonArray(Domain);
        await using var edge = await AcmeEdge.StartAsync(acme, httpPort, httpsPort, node);
        var root = await pebble.RootPemAsync();
        using var served = await edge.WaitForVerifiedHttpsAsync(root, TimeSpan.FromSeconds(90));
        await using var client = await AnnexClient.CloneAsync(node, $"annex+https://{Domain}:{httpsPort}/git-annex/");
        var key = await client.AddRandomFileAsync("data.bin", 3 * 1024 * 1024);
        // git-annex ignores SSL_CERT_FILE: its TLS library reads the system store (/etc/ssl/certs), or the directory
        // SYSTEM_CERTIFICATE_PATH names instead. One holding only Pebble's root trusts the edge and nothing else.
        using var trust = new TempDirectory("pebble-trust");
        await File.WriteAllTextAsync(trust.Combine("pebble-root.pem"), root, TestContext.Current.CancellationToken);
        var trusting = new Dictionary<string, string> { ["SYSTEM_CERTIFICATE_PATH"] = trust.Path };

        var rejected = await client.GitAsync("annex", "copy", "--to", "origin", "data.bin");
        Assert.NotEqual(0, rejected.ExitCode);
        Assert.Contains("unknown CA", rejected.Output);
        Assert.False(await node.HasKeyAsync(key));

        (await TrustingGitAsync(client, trusting, "annex", "copy", "--to", "origin", "data.bin")).EnsureSuccess("git annex copy --to origin");
        Assert.True(await node.HasKeyAsync(key));
        // Dropping asks origin over HTTPS to lock its copy first (numcopies 1).
        (await TrustingGitAsync(client, trusting, "annex", "drop", "data.bin")).EnsureSuccess("git annex drop");
        Assert.False(await ClientHasKeyAsync(client, key));
        (await TrustingGitAsync(client, trusting, "annex", "get", "--from", "origin", "data.bin")).EnsureSuccess("git annex get --from origin");

        Assert.True(await ClientHasKeyAsync(client, key));
        Assert.Equal(Domain, served.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.DnsName, false));
        Assert.Contains("Pebble Intermediate CA", served.Issuer);
        await edge.LogMatchAsync($@"POST /git-annex/{node.Uuid}/v\d+/put 200");
        await edge.LogMatchAsync($@"GET /git-annex/{node.Uuid}/v\d+/key/{Regex.Escape(key)} 200");
    }

    private static Task<ProcessRunner.Result> TrustingGitAsync(AnnexClient client, IDictionary<string, string> environment, params string[] args) =>
        ProcessRunner.RunAsync("git", args, client.RepositoryPath, environment, TimeSpan.FromMinutes(5));

    private static async Task<bool> ClientHasKeyAsync(AnnexClient client, string key)
    {
        var result = await client.GitAsync("annex", "contentlocation", key);
        return result.ExitCode == 0 && result.Output.Trim().Length > 0;
    }
}
