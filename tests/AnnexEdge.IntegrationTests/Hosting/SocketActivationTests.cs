using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.IntegrationTests.Locking;

namespace AnnexEdge.IntegrationTests.Hosting;

/// <summary>
/// The edge started as systemd's socket activation starts it (<c>systemd-socket-activate</c>, which listens itself and
/// passes the listening socket in <c>LISTEN_FDS</c>): it serves on that socket, having no <c>--urls</c> of its own.
/// </summary>
public sealed class SocketActivationTests
{
    [Fact]
    public async Task A_git_annex_client_copies_and_checks_a_file_through_the_socket_systemd_passed()
    {
        await using var node = await P2pNode.StartAsync("activated");
        await using var edge = await EdgeProcess.StartSocketActivatedAsync(EdgeProcess.ConfigFor(node));
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key = await client.AddRandomFileAsync("passed.bin", 100_000);

        (await client.GitAsync("annex", "copy", "--to", "origin", "passed.bin")).EnsureSuccess("copy --to origin through the passed socket");
        Assert.True(await node.HasKeyAsync(key), "the node holds the copy");
        (await client.GitAsync("annex", "fsck", "--fast", "--from", "origin", "passed.bin")).EnsureSuccess("fsck --fast --from origin");
        // Unnamed, on a port other than 443: plain HTTP, decided by the port.
        await edge.LogLineAsync("Serving http on the socket systemd passed as descriptor 3");
    }

    [Fact]
    public async Task A_socket_named_http_is_served_as_plain_http()
    {
        await using var node = await P2pNode.StartAsync("named");
        await using var edge = await EdgeProcess.StartSocketActivatedAsync(EdgeProcess.ConfigFor(node), fdName: "http");

        var key = (await LockClients.StoreKeysAsync(node, 1))[0];
        Assert.True(await P2pHttp.IsPresentAsync(P2pHttp.Api(edge.Url, node.Uuid), key), "checkpresent through the passed socket");
        await edge.LogLineAsync("Serving http on the socket systemd passed as descriptor 3 (name \"http\")");
    }

    [Fact]
    public async Task A_socket_named_https_serves_a_git_annex_client_that_verifies_the_certificate_files_given_to_kestrel()
    {
        await using var node = await P2pNode.StartAsync("activated-tls");
        using var certificates = new TempDirectory("socket-ca");
        var (ca, pem, key) = TestCa.Write(certificates);
        await using var edge = await EdgeProcess.StartSocketActivatedAsync(
            EdgeProcess.ConfigFor(node), fdName: "https", trustedCaFile: ca,
            $"--Kestrel:Certificates:Default:Path={pem}", $"--Kestrel:Certificates:Default:KeyPath={key}");
        Assert.StartsWith("annex+https://", edge.AnnexUrl, StringComparison.Ordinal);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key1 = await client.AddRandomFileAsync("secure.bin", 200_000);
        var trustTheTestCa = new Dictionary<string, string> { ["SYSTEM_CERTIFICATE_PATH"] = Path.GetDirectoryName(ca)! };

        (await client.GitAsync(trustTheTestCa, "annex", "copy", "--to", "origin", "secure.bin")).EnsureSuccess("copy --to origin over HTTPS on the passed socket");
        Assert.True(await node.HasKeyAsync(key1), "the node holds the copy");
        await edge.LogLineAsync("Serving https on the socket systemd passed as descriptor 3 (name \"https\")");

        // The same client without the test CA is refused by its own verification: the socket really is HTTPS.
        using var noCa = new TempDirectory("no-ca");
        var untrusting = await client.GitAsync(new Dictionary<string, string> { ["SYSTEM_CERTIFICATE_PATH"] = noCa.Path }, "annex", "drop", "--from", "origin", "--force", "secure.bin");
        Assert.NotEqual(0, untrusting.ExitCode);
        Assert.True(await node.HasKeyAsync(key1), "nothing was dropped by a client that could not verify the edge");
    }
}
