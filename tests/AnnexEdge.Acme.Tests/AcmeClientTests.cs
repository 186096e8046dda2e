using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.Acme.Jose;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnnexEdge.Acme.Tests;

public sealed class AcmeClientTests
{
    [Fact]
    public async Task BadNonce_is_retried_with_the_nonce_the_error_carried()
    {
        var server = new FakeAcmeServer();
        server.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.BadRequest, """{"type":"urn:ietf:params:acme:error:badNonce","detail":"bad"}"""));
        server.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.Created, """{"status":"valid"}""", "https://ca.test/acct/7"));
        using var key = AccountKey.Create();
        var client = Client(server, key);

        var account = await client.NewAccountAsync("ops@example.org", true, null, null, TestContext.Current.CancellationToken);

        Assert.Equal("https://ca.test/acct/7", account);
        var posts = Enumerable.Range(0, server.Requests.Count).Where(i => server.Requests[i].Method == HttpMethod.Post).ToList();
        Assert.Equal(2, posts.Count);
        Assert.Equal(server.NoncesSent[posts[0]], (string?)Header(server.Bodies[posts[1]])["nonce"]);
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars((string)JsonNode.Parse(server.Bodies[^1])!["payload"]!))!;
        Assert.True((bool)payload["termsOfServiceAgreed"]!);
        Assert.Equal("mailto:ops@example.org", (string?)payload["contact"]![0]);
    }

    [Fact]
    public async Task Other_problems_are_thrown_with_the_problem_document()
    {
        var server = new FakeAcmeServer();
        server.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.Forbidden, """{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no EAB","status":403}"""));
        using var key = AccountKey.Create();

        var error = await Assert.ThrowsAsync<AcmeProblemException>(() => Client(server, key).NewAccountAsync(null, true, null, null, TestContext.Current.CancellationToken));

        Assert.Equal("unauthorized", error.Problem.Name);
        Assert.Equal("https://ca.test/account", error.Url);
    }

    [Fact]
    public async Task Preferred_chain_is_fetched_from_the_alternate_link()
    {
        var (defaultChain, key1) = TestCertificates.Chain(["edge.example.org"], DateTimeOffset.UtcNow, TimeSpan.FromDays(90));
        key1.Dispose();
        using var otherRootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherRoot = new CertificateRequest("CN=Alternate Root", otherRootKey, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var alternateChain = defaultChain + otherRoot.ExportCertificatePem() + "\n";
        var server = new FakeAcmeServer();
        server.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.Created, "{}", "https://ca.test/acct/1"));
        server.Posts.Enqueue(() =>
        {
            var response = FakeAcmeServer.Json(HttpStatusCode.OK, defaultChain);
            response.Headers.Add("Link", "<https://ca.test/cert/1/1>;rel=\"alternate\", <https://ca.test/directory>;rel=\"index\"");
            return response;
        });
        server.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.OK, alternateChain));
        using var key = AccountKey.Create();
        var client = Client(server, key);
        await client.NewAccountAsync(null, true, null, null, TestContext.Current.CancellationToken);

        var preferred = await client.DownloadCertificateAsync("https://ca.test/cert/1", "Alternate Root", TestContext.Current.CancellationToken);

        Assert.Equal(alternateChain, preferred.Pem);
        Assert.Equal("https://ca.test/cert/1/1", server.Requests[^1].RequestUri!.ToString());
    }

    private static AcmeClient Client(FakeAcmeServer server, AccountKey key) =>
        new(new HttpClient(server), new Uri(FakeAcmeServer.Directory), key, TimeProvider.System, NullLogger.Instance);

    private static JsonNode Header(string body) =>
        JsonNode.Parse(Base64Url.DecodeFromChars((string)JsonNode.Parse(body)!["protected"]!))!;
}
