// A new password typed twice (adding a user, setting a user's password, changing one's own): the
// two must match before anything is sent; every other rule (length, characters) is the API's,
// and its refusal is shown as it words it.
import { el } from "./dom.js";

export class NewPasswordFields {
  readonly password: HTMLInputElement;
  readonly repeat: HTMLInputElement;
  readonly elements: HTMLLabelElement[];

  constructor(idPrefix: string, label = "password") {
    const attrs = { type: "password", autocomplete: "new-password", required: true, size: 20 } as const;
    this.password = el("input", { ...attrs, id: `${idPrefix}-password`, name: "password" });
    this.repeat = el("input", { ...attrs, id: `${idPrefix}-repeat`, name: "repeat" });
    this.elements = [el("label", {}, `${label} `, this.password), el("label", {}, "repeat ", this.repeat)];
  }

  /** the password, or throws when the two differ (nothing is sent then) */
  value(): string {
    if (this.password.value !== this.repeat.value) throw new Error("the two passwords do not match; nothing was sent");
    return this.password.value;
  }

  clear(): void { this.password.value = ""; this.repeat.value = ""; }
}
