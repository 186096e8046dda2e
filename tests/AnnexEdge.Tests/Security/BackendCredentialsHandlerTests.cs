using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class BackendCredentialsHandlerTests
{
    private static async Task<HttpRequestMessage> SendThroughAsync(string? user, string? password, bool forward)
    {
        var recorder = new Recorder();
        using var invoker = new HttpMessageInvoker(new BackendCredentialsHandler(recorder, () => BackendCredentials.Of(user, password, forward)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://node.invalid/git-annex/u/v4/checkpresent");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", "Y2xpZW50OnB3"); // client:pw
        request.Headers.ProxyAuthorization = new AuthenticationHeaderValue("Basic", "Y2xpZW50OnB3");
        using var _ = await invoker.SendAsync(request, CancellationToken.None);
        return recorder.Seen!;
    }

    [Fact]
    public async Task The_clients_credentials_never_reach_a_node_by_default()
    {
        var seen = await SendThroughAsync(null, null, forward: false);
        Assert.Null(seen.Headers.Authorization);
        Assert.Null(seen.Headers.ProxyAuthorization);
    }

    [Fact]
    public async Task The_backend_credentials_replace_the_clients()
    {
        var seen = await SendThroughAsync("edge", "nodepw", forward: false);
        Assert.Equal("Basic", seen.Headers.Authorization!.Scheme);
        Assert.Equal("edge:nodepw", Encoding.UTF8.GetString(Convert.FromBase64String(seen.Headers.Authorization.Parameter!)));
    }

    [Fact]
    public async Task The_clients_credentials_pass_only_when_the_repository_says_so()
    {
        var seen = await SendThroughAsync(null, null, forward: true);
        Assert.Equal("Y2xpZW50OnB3", seen.Headers.Authorization!.Parameter);
        Assert.Null(seen.Headers.ProxyAuthorization);
    }

    private sealed class Recorder : HttpMessageHandler
    {
        public HttpRequestMessage? Seen { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen = request;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }
}
