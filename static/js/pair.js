// Pairing pages: keep the device token this phone was given, then open the scanner.
//   /usher/pair#t=TOKEN  (printed by `checkin device add`): the token comes in the address fragment,
//                        which never reaches a server; it is stored and wiped from the address bar.
//   /usher/pair          after the pairing form: the token comes in the page, once.

export const TOKEN_KEY = "checkin.deviceToken";

function keep(token) {
  try {
    localStorage.setItem(TOKEN_KEY, token);
  } catch {
    const status = document.getElementById("pair-token-status");
    if (status) {
      status.hidden = false;
      status.textContent = "localStorage unavailable (private browsing?)";
    }
    return false;
  }
  return true;
}

const block = document.getElementById("device-token");
if (block) {
  const { token } = JSON.parse(block.textContent);
  block.remove(); // not left in the page for anything else to read
  if (keep(token)) location.replace("/usher");
} else if (location.hash.length > 1) {
  const params = new URLSearchParams(location.hash.slice(1));
  // Off the address bar (and out of the history) before anything else can copy or share it.
  history.replaceState(null, "", location.pathname + location.search);
  const token = params.get("t");
  const code = params.get("p");
  if (token && keep(token)) {
    location.replace("/usher");
  } else if (code) {
    const input = document.getElementById("code");
    if (input) input.value = code;
  }
}
