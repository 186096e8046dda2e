using System.Text;
using AnnexEdge.Git;

namespace AnnexEdge.Tests.Git;

public sealed class CgiResponseHeadTests
{
    private static (CgiResponseHead? Head, string Body) Read(string answer)
    {
        var bytes = Encoding.Latin1.GetBytes(answer);
        var end = CgiResponseHead.FindEnd(bytes);
        Assert.NotNull(end);
        return (CgiResponseHead.Parse(bytes.AsSpan(0, end.Value.HeadLength)), Encoding.Latin1.GetString(bytes.AsSpan(end.Value.BodyStart)));
    }

    [Fact]
    public void Headers_of_git_http_backend_are_passed_on_with_status_200_by_default()
    {
        var (head, body) = Read("Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\n"
            + "Content-Type: application/x-git-upload-pack-advertisement\r\n\r\n001e# service=git-upload-pack\n");

        Assert.Equal(200, head!.StatusCode);
        Assert.Equal(["Expires", "Pragma", "Content-Type"], head.Headers.Select(h => h.Key));
        Assert.Equal("application/x-git-upload-pack-advertisement", head.Headers[2].Value);
        Assert.Equal("001e# service=git-upload-pack\n", body);
    }

    [Fact]
    public void Status_header_sets_the_status_and_is_not_passed_on()
    {
        var (head, body) = Read("Status: 403 Forbidden\nContent-Type: text/plain\n\nno\n");

        Assert.Equal(403, head!.StatusCode);
        Assert.Equal(["Content-Type"], head.Headers.Select(h => h.Key));
        Assert.Equal("no\n", body);
    }

    [Fact]
    public void Location_without_status_is_a_redirect() =>
        Assert.Equal(302, Read("Location: /elsewhere\n\n").Head!.StatusCode);

    [Fact]
    public void An_empty_head_gives_200_and_everything_is_body()
    {
        var (head, body) = Read("\r\nbody");
        Assert.Equal(200, head!.StatusCode);
        Assert.Empty(head.Headers);
        Assert.Equal("body", body);
    }

    [Fact]
    public void Body_bytes_that_look_like_headers_stay_body()
    {
        var (head, body) = Read("Content-Type: a/b\n\nStatus: 500 x\n\n");
        Assert.Equal(200, head!.StatusCode);
        Assert.Equal("Status: 500 x\n\n", body);
    }

    [Theory]
    [InlineData("Content-Type: a/b\r\n")]
    [InlineData("Content-Type: a/b\r\n\r")]
    [InlineData("Content-Type: a/b")]
    [InlineData("")]
    public void An_unfinished_head_has_no_end_yet(string partial) =>
        Assert.Null(CgiResponseHead.FindEnd(Encoding.Latin1.GetBytes(partial)));

    [Theory]
    [InlineData("no colon here")]
    [InlineData("Bad Name: x")]
    [InlineData(": empty name")]
    [InlineData("Status: abc")]
    [InlineData("Status: 42 Too Short")]
    [InlineData("Status: 2000 Long")]
    public void Malformed_heads_are_refused(string head) =>
        Assert.Null(CgiResponseHead.Parse(Encoding.Latin1.GetBytes(head + "\n")));
}
