namespace AnnexEdge.Acme.Tests;

public sealed class ChallengeResponderTests : IDisposable
{
    private const string Token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    private const string KeyAuthorization = Token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

    private readonly string _dir = Directory.CreateTempSubdirectory("acme-challenges-").FullName;

    [Fact]
    public void Http01_answer_placed_by_one_process_is_served_by_another_sharing_the_store()
    {
        var ordering = new ChallengeResponder(new CertificateStore(_dir));
        var other = new ChallengeResponder(new CertificateStore(_dir));

        ordering.AddHttp01(Token, KeyAuthorization);

        Assert.Equal(KeyAuthorization, other.Http01(Token));
        var file = Path.Combine(_dir, "challenges", Token);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

        ordering.RemoveHttp01(Token);

        Assert.Null(other.Http01(Token));
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void Responder_without_a_store_answers_from_memory_only()
    {
        var responder = new ChallengeResponder();

        responder.AddHttp01(Token, KeyAuthorization);

        Assert.Equal(KeyAuthorization, responder.Http01(Token));
        Assert.Null(new ChallengeResponder(new CertificateStore(_dir)).Http01(Token));
        responder.RemoveHttp01(Token);
        Assert.Null(responder.Http01(Token));
    }

    [Theory]
    [InlineData("../account.key")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("tok%2Fen")]
    public void Token_that_is_not_base64url_never_reaches_the_file_system(string token)
    {
        File.WriteAllText(Path.Combine(_dir, "account.key"), "secret");
        Directory.CreateDirectory(Path.Combine(_dir, "challenges", "a"));
        File.WriteAllText(Path.Combine(_dir, "challenges", "a", "b"), "nested");
        var responder = new ChallengeResponder(new CertificateStore(_dir));

        Assert.Null(responder.Http01(token));
        Assert.Throws<AcmeProblemException>(() => responder.AddHttp01(token, KeyAuthorization));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
