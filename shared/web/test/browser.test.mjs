// The demo chat app in Debian's Chromium, on the real cirrus-local: two users chat both ways with
// unread badges, images, recall and delete, presence, groups and a live room a guest watches; then
// the chat story again on the AWS backend against moto. Screenshots go to test-artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startLocalStack } from "./local-stack.mjs";
import { png } from "./png.mjs";
import { conversation, launchChromium, message, say, screenshot, signIn, startMoto } from "./browser.mjs";

const started = Date.now();
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  console.log(`browser suite: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/**
 * alice writes twice while bob is elsewhere: bob's badge rises to 2, opening the chat clears it and
 * tells alice (a read receipt); bob answers. Leaves both pages in their one-to-one chat.
 */
async function chatStory(alice, bob) {
  await alice.getByTestId("peer").fill("bob");
  await alice.getByTestId("peer").press("Enter");
  await alice.locator('[data-testid="presence"][data-online="true"]').waitFor();
  await say(alice, "hello bob");
  const badge = conversation(bob, "alice").getByTestId("unread");
  await badge.filter({ hasText: "1" }).waitFor();
  await say(alice, "are you there?");
  await badge.filter({ hasText: "2" }).waitFor();
  await screenshot(bob, "unread-badge");

  await conversation(bob, "alice").click();
  await message(bob, "are you there?").waitFor();
  await badge.waitFor({ state: "detached" });
  await alice.getByTestId("status").filter({ hasText: "read up to #2" }).waitFor();

  await say(bob, "hi alice");
  await message(alice, "hi alice").waitFor();
  assert.equal(await bob.getByTestId("message").count(), 3);
}

describe("the demo on SQLite", () => {
  let stack;
  let alice;
  let bob;

  before(async () => {
    stack = await startLocalStack(["--guests"]);
    // alice registers a hosted account; bob signs in with a development token.
    alice = await signIn(browser, stack.demo, "register", "alice");
    bob = await signIn(browser, stack.demo, "dev", "bob");
  });

  after(async () => {
    await stack?.stop();
  });

  test("two users chat both ways, with the unread badge rising and clearing", async () => {
    await chatStory(alice, bob);
  });

  test("an uploaded PNG shows as a loaded thumbnail on both sides", async () => {
    // GIVEN a 640x480 PNG WHEN alice picks it THEN both timelines show the server's thumbnail
    await alice.getByTestId("image").setInputFiles({ name: "gradient.png", mimeType: "image/png", buffer: png(640, 480) });
    const loaded = (page) =>
      page.waitForFunction(() =>
        [...document.querySelectorAll('[data-testid="thumbnail"]')].some((img) => img.complete && img.naturalWidth > 0),
      );
    await loaded(alice);
    await loaded(bob);
    const width = await bob.getByTestId("thumbnail").evaluate((img) => img.naturalWidth);
    assert.equal(width, 198, "the thumbnail rendition, not the original");
    await screenshot(bob, "chat-with-image");
  });

  test("a recall vanishes on the other side; a delete only on one's own", async () => {
    // GIVEN alice's two messages WHEN she recalls one THEN bob no longer sees it
    await message(alice, "are you there?").getByTestId("recall").click();
    await message(bob, "are you there?").waitFor({ state: "detached" });
    await message(bob, "message recalled").waitFor();
    // WHEN she deletes the other for herself THEN it leaves her timeline and stays in bob's
    await message(alice, "hello bob").getByTestId("delete").click();
    await message(alice, "hello bob").waitFor({ state: "detached" });
    assert.equal(await message(bob, "hello bob").count(), 1);
  });

  test("a new group lists its members and carries messages to them", async () => {
    // GIVEN alice WHEN she creates "Team" with bob THEN the member panel lists both, and bob gets her message
    await alice.getByText("new group or live room").click();
    await alice.getByTestId("group-name").fill("Team");
    await alice.getByTestId("group-members").fill("bob");
    await alice.getByTestId("group-create").click();
    const members = alice.getByTestId("member");
    await members.filter({ hasText: "bob" }).waitFor();
    assert.deepEqual((await members.allInnerTexts()).map((text) => text.trim()).sort(), ["alice owner", "bob"]);
    await say(alice, "welcome to the team");
    await conversation(bob, "Team").click();
    await message(bob, "welcome to the team").waitFor();
    await bob.getByTestId("member").filter({ hasText: "alice" }).waitFor();
    await screenshot(alice, "group-members");
  });

  test("a guest watches a live room and sees a member's message arrive", async () => {
    // GIVEN alice's live room WHEN a guest enters it and alice speaks THEN the guest sees it, with no compose box
    await alice.getByTestId("group-name").fill("Lobby");
    await alice.getByTestId("group-id").fill("lobby");
    await alice.getByTestId("group-type").selectOption("live");
    await alice.getByTestId("group-create").click();
    await alice.getByTestId("chat-title").filter({ hasText: "Lobby" }).waitFor();
    const guest = await signIn(browser, stack.demo, "guest");
    await guest.getByTestId("room-id").fill("lobby");
    await guest.getByTestId("room-id").press("Enter");
    await guest.getByTestId("chat-title").filter({ hasText: "Lobby" }).waitFor();
    assert.equal(await guest.getByTestId("compose").isVisible(), false, "guests only watch");
    assert.equal(await guest.getByTestId("peer").isVisible(), false, "guests have no one-to-one chat");
    await say(alice, "the show starts now");
    await message(guest, "the show starts now").waitFor();
    await screenshot(guest, "guest-live-room");
  });

  test("the peer's presence dot goes out when they leave", async () => {
    // GIVEN alice in her chat with bob WHEN bob closes his page THEN her dot shows him offline
    await conversation(alice, "bob").click();
    await alice.locator('[data-testid="presence"][data-online="true"]').waitFor();
    await bob.context().close();
    await alice.locator('[data-testid="presence"][data-online="false"]').waitFor();
  });
});

describe("the demo on the AWS backend (moto)", () => {
  let moto;
  let stack;

  before(async () => {
    moto = await startMoto();
    stack = await startLocalStack(["--backend", "aws", "--endpoint-url", moto.endpoint, "--create-tables"], {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
    });
  });

  after(async () => {
    await stack?.stop();
    await moto?.stop();
  });

  test("two users chat both ways, with the unread badge rising and clearing", async () => {
    const alice = await signIn(browser, stack.demo, "dev", "alice");
    const bob = await signIn(browser, stack.demo, "dev", "bob");
    await chatStory(alice, bob);
    await screenshot(alice, "aws-chat");
  });
});
